import { useEffect, useState } from 'preact/hooks';
import { can, errorText, type Me, type Reply, request } from '../api.ts';
import { DeviceCommands } from '../device-commands.tsx';
import { useGridNodes, useSites } from '../hooks.ts';
import { useI18n } from '../i18n.ts';
import { go } from '../route.ts';
import { Cell, Head, Named } from '../ui.tsx';

type Device = Reply<'/devices/', 'get'>['items'][number];
type Commissioning = Reply<'/devices/{id}/commissioning', 'get'>;
type CsvResult = Reply<'/devices/import', 'post'>;

export function DevicesPage({ me, id }: { me: Me; id?: string }) {
  return id ? (
    <>
      <Commissioning id={id} />
      <DeviceCommands id={id} me={me} />
    </>
  ) : (
    <Registry me={me} />
  );
}

function Registry({ me }: { me: Me }) {
  const i = useI18n();
  const { t } = i;
  const [filter, setFilter] = useState({ grid: '', site: '', online: '' });
  const grids = useGridNodes();
  const [items, setItems] = useState<Device[] | null>(null);
  const sites = useSites();
  const [reload, setReload] = useState(0);
  useEffect(() => {
    // empty filters are left out of the query (clients/api.ts apiUrl)
    request('get', '/devices/', { query: { limit: 500, ...filter } })
      .then((r) => setItems(r.items))
      .catch(() => setItems([]));
  }, [filter, reload]);
  return (
    <section>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          {t('grid')}
          <select value={filter.grid} onChange={(e) => setFilter({ ...filter, grid: e.currentTarget.value })}>
            <option value="">{t('all')}</option>
            {grids.map((g) => (
              <option value={g.id}>{g.name}</option>
            ))}
          </select>
        </label>
        <label>
          {t('site')}
          <select value={filter.site} onChange={(e) => setFilter({ ...filter, site: e.currentTarget.value })}>
            <option value="">{t('all')}</option>
            {[...sites].map(([sid, name]) => (
              <option value={sid}>{name}</option>
            ))}
          </select>
        </label>
        <label>
          {t('state')}
          <select
            value={filter.online}
            onChange={(e) => setFilter({ ...filter, online: e.currentTarget.value })}
          >
            <option value="">{t('all')}</option>
            <option value="true">{t('online')}</option>
            <option value="false">{t('offline')}</option>
          </select>
        </label>
      </form>
      {items === null ? (
        <p>{t('loading')}</p>
      ) : (
        <table class="list" data-testid="devices">
          <Head cols={[t('device'), t('model'), t('site'), t('state'), t('battery'), t('lastSeen')]} />
          <tbody>
            {items.map((d) => (
              <tr key={d.id} data-device={d.id} onClick={() => go(`devices/${encodeURIComponent(d.id)}`)}>
                <Cell label={t('device')}>
                  <a href={`#/devices/${encodeURIComponent(d.id)}`} title={d.id}>
                    {d.name ?? d.id}
                  </a>
                  <div class="sub">{d.id}</div>
                </Cell>
                <Cell label={t('model')}>
                  <span title={d.model}>
                    {d.modelName ? (i.lang === 'en' ? d.modelName.en : d.modelName.zh) : d.model}
                  </span>
                </Cell>
                <Cell label={t('site')}>
                  <Named id={d.siteId} name={d.siteName ?? sites.get(d.siteId)} />
                </Cell>
                <Cell label={t('state')}>
                  <span class={`dot ${d.online ? 'on' : 'off'}`} /> {d.online ? t('online') : t('offline')}
                  {d.status !== 'active' ? ` · ${i.state(d.status)}` : ''}
                </Cell>
                <Cell label={t('battery')}>{d.battery == null ? '—' : `${Math.round(d.battery)}%`}</Cell>
                <Cell label={t('lastSeen')}>{i.time(d.lastSeenAt)}</Cell>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {can(me, 'device:register') && (
        <>
          <Register sites={sites} onDone={() => setReload(reload + 1)} />
          <CsvImport onDone={() => setReload(reload + 1)} />
        </>
      )}
    </section>
  );
}

function Register({ sites, onDone }: { sites: Map<string, string>; onDone: () => void }) {
  const { t, lang } = useI18n();
  const [models, setModels] = useState<Reply<'/device-models/', 'get'>>([]);
  const [done, setDone] = useState<{ id: string; secret: string } | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    request('get', '/device-models/')
      .then(setModels)
      .catch(() => undefined);
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const optional = (k: string) => (f.get(k) ? String(f.get(k)) : undefined);
    const body = {
      model: String(f.get('model')),
      site: String(f.get('site')),
      name: optional('name'),
      serial: optional('serial'),
    };
    try {
      const r = await request('post', '/devices/', { body });
      setDone({ id: r.device.id, secret: r.secret });
      (e.currentTarget as HTMLFormElement | null)?.reset();
      onDone();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <details class="card" open>
      <summary>{t('register')}</summary>
      <form onSubmit={submit} class="form" data-testid="register-form">
        <label>
          {t('model')}
          <select name="model" required>
            {models.map((m) => (
              <option value={m.id}>
                {lang === 'en' ? m.name.en : m.name.zh} ({m.type})
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('site')}
          <select name="site" required>
            {[...sites].map(([sid, name]) => (
              <option value={sid}>{name}</option>
            ))}
          </select>
        </label>
        <label>
          {t('name')}
          <input name="name" maxLength={100} />
        </label>
        <label>
          {t('serial')}
          <input name="serial" maxLength={64} />
        </label>
        <button type="submit" class="primary">
          {t('register')}
        </button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {done && (
        <div class="secret" data-testid="secret-box">
          <p>{t('registerDone')}</p>
          <p>
            {t('device')}: <code data-testid="new-device-id">{done.id}</code>
          </p>
          <p>
            {t('secret')}: <code data-testid="new-secret">{done.secret}</code>
          </p>
          <a
            href={`#/devices/${encodeURIComponent(done.id)}`}
            onClick={() => setDone(null)}
            data-testid="to-commissioning"
          >
            {t('commissioning')} →
          </a>
        </div>
      )}
    </details>
  );
}

function CsvImport({ onDone }: { onDone: () => void }) {
  const { t } = useI18n();
  const [csv, setCsv] = useState('');
  const [preview, setPreview] = useState<CsvResult | null>(null);
  const [imported, setImported] = useState<CsvResult['registered'] | null>(null);
  const [error, setError] = useState('');
  const send = async (dryRun: boolean) => {
    setError('');
    try {
      const r = await request('post', '/devices/import', { query: { dryRun }, body: csv }, 'text/csv');
      if (dryRun) setPreview(r);
      else {
        setImported(r.registered);
        setPreview(null);
        onDone();
      }
    } catch (err) {
      setError(errorText(err));
    }
  };
  const file = async (e: Event) => {
    const f = (e.currentTarget as HTMLInputElement).files?.[0];
    if (f) setCsv(await f.text());
  };
  const ok = preview !== null && preview.problems.length === 0;
  return (
    <details class="card">
      <summary>{t('csvImport')}</summary>
      <input type="file" accept=".csv,text/csv" onChange={file} />
      <textarea
        rows={6}
        value={csv}
        onInput={(e) => {
          setCsv(e.currentTarget.value);
          setPreview(null);
        }}
        placeholder="id,model,site,name,serial"
        data-testid="csv-text"
      />
      <div class="buttons">
        <button type="button" onClick={() => send(true)} disabled={!csv} data-testid="csv-dry-run">
          {t('dryRun')}
        </button>
        <button
          type="button"
          class="primary"
          onClick={() => send(false)}
          disabled={!ok}
          data-testid="csv-import"
        >
          {t('importNow')}
        </button>
      </div>
      {error && <p class="error">{error}</p>}
      {ok && (
        <p class="ok">
          {t('csvOk')} ({preview.rows})
        </p>
      )}
      {preview && !ok && (
        <>
          <p class="error">{t('csvProblems')}</p>
          <table class="list compact" data-testid="csv-problems">
            <Head cols={[t('line'), t('column'), t('reason')]} />
            <tbody>
              {preview.problems.map((p) => (
                <tr>
                  <Cell label={t('line')}>{p.line}</Cell>
                  <Cell label={t('column')}>{p.column}</Cell>
                  <Cell label={t('reason')}>{p.reason}</Cell>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {imported && (
        <div class="secret">
          <p>
            {t('imported')}: {imported.length}. {t('registerDone')}
          </p>
          <table class="list compact">
            <Head cols={[t('line'), t('device'), t('secret')]} />
            <tbody>
              {imported.map((r) => (
                <tr>
                  <Cell label={t('line')}>{r.line}</Cell>
                  <Cell label={t('device')}>{r.id}</Cell>
                  <Cell label={t('secret')}>
                    <code>{r.secret}</code>
                  </Cell>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </details>
  );
}

/** The commissioning view, refreshed every second: the installer sees the test press arrive. */
function Commissioning({ id }: { id: string }) {
  const i = useI18n();
  const { t } = i;
  const [view, setView] = useState<Commissioning | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let stop = false;
    const poll = () =>
      request('get', '/devices/{id}/commissioning', { params: { id } })
        .then((v) => !stop && setView(v))
        .catch((e: Error) => setError(e.message));
    void poll();
    const timer = window.setInterval(poll, 1000);
    return () => {
      stop = true;
      window.clearInterval(timer);
    };
  }, [id]);
  if (!view) return <p>{error || t('loading')}</p>;
  const d = view.device;
  return (
    <section class="detail" data-testid="commissioning">
      <a href="#/devices">← {t('back')}</a>
      <h2>
        {t('commissioning')}: {d.name ?? d.id} <span class={`dot ${d.online ? 'on' : 'off'}`} />
      </h2>
      <p class="hint">{t('commissioningHint')}</p>
      <h3>{t('accepted')}</h3>
      <ul class="records" data-testid="accepted">
        {view.accepted.map((r) => (
          <li data-what={r.what}>
            <time>{i.time(r.at)}</time> <strong>{r.what}</strong> <code>{r.excerpt}</code>
          </li>
        ))}
        {view.accepted.length === 0 && <li class="empty">{t('none')}</li>}
      </ul>
      <h3>{t('rejected')}</h3>
      <ul class="records" data-testid="rejected">
        {view.rejected.map((r) => (
          <li>
            <time>{i.time(r.at)}</time> <strong>{r.code}</strong> {r.reason} <code>{r.excerpt}</code>
          </li>
        ))}
        {view.rejected.length === 0 && <li class="empty">{t('none')}</li>}
      </ul>
    </section>
  );
}

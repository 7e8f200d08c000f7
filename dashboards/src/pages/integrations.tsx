import { useEffect, useState } from 'preact/hooks';
import { can, errorText, type Me, type Reply, request } from '../api.ts';
import { useSites } from '../hooks.ts';
import { useI18n } from '../i18n.ts';
import { Cell, Head } from '../ui.tsx';

type Integration = Reply<'/integrations/', 'get'>[number];
type Unmatched = Reply<'/integrations/{id}/unmatched', 'get'>[number];

/**
 * Integrations (issue 20): each CTWing, OneNET and ChirpStack integration with what an operator
 * needs on the platform's side — the push URL to paste into its console, the ChirpStack connection
 * — and the devices the platform reports that nobody has registered yet, each registrable here.
 */
export function IntegrationsPage({ me }: { me: Me }) {
  const { t } = useI18n();
  const [items, setItems] = useState<Integration[] | null>(null);
  const [reload, setReload] = useState(0);
  const [error, setError] = useState('');
  useEffect(() => {
    request('get', '/integrations/')
      .then(setItems)
      .catch((err: unknown) => setError(errorText(err)));
  }, [reload]);
  if (error)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (items === null) return <p>{t('loading')}</p>;
  if (items.length === 0) return <p data-testid="no-integrations">{t('noIntegrations')}</p>;
  return (
    <section data-testid="integrations">
      {items.map((i) => (
        <IntegrationCard key={i.id} me={me} integration={i} onChange={() => setReload(reload + 1)} />
      ))}
    </section>
  );
}

function IntegrationCard({
  me,
  integration: i,
  onChange,
}: {
  me: Me;
  integration: Integration;
  onChange: () => void;
}) {
  const { t, time } = useI18n();
  const [shown, setShown] = useState<{ url: string | null; token: string | null } | null>(null);
  const [error, setError] = useState('');
  const pushUrl = i.pushPath ? `${location.origin}${i.pushPath}` : null;
  const rotate = async () => {
    setError('');
    try {
      const r = await request('post', '/integrations/{id}/rotate-token', { params: { id: i.id } });
      setShown({ url: r.pushUrl, token: i.kind === 'onenet' ? r.token : null });
    } catch (err) {
      setError(errorText(err));
    }
  };
  const c = i.connection;
  return (
    <article class="card detail" data-integration={i.id} data-kind={i.kind}>
      <h2>
        {i.name} <span class="sub">{i.id}</span>
      </h2>
      <dl class="facts">
        <dt>{t('integrationKind')}</dt>
        <dd data-testid="kind">{t(`kind_${i.kind}`)}</dd>
        <dt>{t('state')}</dt>
        <dd>{i.enabled ? t('enabled') : t('disabled')}</dd>
        <dt>{t('models')}</dt>
        <dd>{i.models.join(', ')}</dd>
        {pushUrl && (
          <>
            <dt>{t('pushUrl')}</dt>
            <dd>
              <code data-testid="push-url">{pushUrl}</code>
              <div class="sub">{t(i.kind === 'ctwing' ? 'pushUrlCtwing' : 'pushUrlOnenet')}</div>
            </dd>
          </>
        )}
        {i.kind === 'chirpstack' && (
          <>
            <dt>{t('networkServer')}</dt>
            <dd>
              <code>{i.chirpstack?.url}</code> · {t('application')} <code>{i.chirpstack?.applicationId}</code>
            </dd>
            <dt>{t('connection')}</dt>
            <dd data-testid="connection" data-state={c?.state ?? 'none'}>
              <span class={`dot ${c?.state === 'connected' ? 'on' : 'off'}`} />{' '}
              {c ? t(`conn_${c.state}`) : '—'}
              {c && <span class="sub"> · {time(c.since)}</span>}
              {c?.lastError && <div class="error">{c.lastError}</div>}
            </dd>
          </>
        )}
        <dt>{t('commandsVia')}</dt>
        <dd data-testid="commands-ready">{i.commandsReady ? t('commandsReady') : t('commandsNotReady')}</dd>
        <dt>{t('sinceStart')}</dt>
        <dd data-testid="counts">
          {t('accepted')} {i.counts.accepted} · {t('duplicates')} {i.counts.duplicates} · {t('rejected')}{' '}
          {i.counts.refused} · {t('unmatched')} {i.counts.unmatched}
        </dd>
      </dl>
      {can(me, 'integration:write') && i.kind !== 'chirpstack' && (
        <button type="button" onClick={rotate} data-testid="rotate">
          {t('rotateToken')}
        </button>
      )}
      {shown && (
        <div class="secret" data-testid="new-push-url">
          <p>{t('rotateDone')}</p>
          <p>
            <code>{shown.url}</code>
          </p>
          {shown.token && (
            <p>
              Token: <code data-testid="new-token">{shown.token}</code>
            </p>
          )}
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <UnmatchedList me={me} integration={i} onChange={onChange} />
    </article>
  );
}

function UnmatchedList({
  me,
  integration: i,
  onChange,
}: {
  me: Me;
  integration: Integration;
  onChange: () => void;
}) {
  const { t, time } = useI18n();
  const [items, setItems] = useState<Unmatched[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  useEffect(() => {
    request('get', '/integrations/{id}/unmatched', { params: { id: i.id } })
      .then(setItems)
      .catch(() => setItems([]));
  }, [i.id, reload]);
  const done = () => {
    setOpen(null);
    setReload(reload + 1);
    onChange();
  };
  return (
    <div data-testid="unmatched">
      <h3>{t('unmatchedTitle')}</h3>
      {items.length === 0 ? (
        <p class="sub">{t('unmatchedNone')}</p>
      ) : (
        <table class="list">
          <Head cols={[t('identity'), t('lastSeen'), t('times'), t('lastMessage'), t('actions')]} />
          <tbody>
            {items.map((u) => (
              <tr key={u.identity} data-identity={u.identity}>
                <Cell label={t('identity')}>
                  <code>{u.identity}</code>
                  <div class="sub">{t(`identity_${u.identityKind}`)}</div>
                </Cell>
                <Cell label={t('lastSeen')}>{time(u.lastAt)}</Cell>
                <Cell label={t('times')}>{u.count}</Cell>
                <Cell label={t('lastMessage')}>
                  <code class="excerpt">{u.excerpt}</code>
                </Cell>
                <Cell label={t('actions')}>
                  {can(me, 'device:register') && (
                    <button
                      type="button"
                      data-testid="register-unmatched"
                      onClick={() => setOpen(u.identity)}
                    >
                      {t('register')}
                    </button>
                  )}
                </Cell>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && <RegisterUnmatched integration={i} identity={open} onDone={done} />}
    </div>
  );
}

function RegisterUnmatched({
  integration: i,
  identity,
  onDone,
}: {
  integration: Integration;
  identity: string;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const sites = useSites();
  const [error, setError] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const name = f.get('name') ? String(f.get('name')) : undefined;
    try {
      const r = await request('post', '/integrations/{id}/unmatched/{identity}/register', {
        params: { id: i.id, identity },
        body: { model: String(f.get('model')), site: String(f.get('site')), name },
      });
      setDone(r.device.id);
    } catch (err) {
      setError(errorText(err));
    }
  };
  if (done)
    return (
      <div class="secret" data-testid="registered">
        <p>{t('registeredFromUnmatched')}</p>
        <a href={`#/devices/${encodeURIComponent(done)}`} data-testid="to-device" onClick={onDone}>
          {done} →
        </a>
      </div>
    );
  return (
    <form class="form" onSubmit={submit} data-testid="register-unmatched-form">
      <p>
        {t('register')}: <code>{identity}</code>
      </p>
      <label>
        {t('model')}
        <select name="model" required>
          {i.models.map((m) => (
            <option value={m}>{m}</option>
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
      <button type="submit" class="primary">
        {t('register')}
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

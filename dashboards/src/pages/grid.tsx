import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Body } from '../../../clients/api.ts';
import { can, errorText, type Me, type Reply, request } from '../api.ts';
import { type GridNode, useGridNodes } from '../hooks.ts';
import { useI18n } from '../i18n.ts';
import { Cell, Head } from '../ui.tsx';

type Summary = Reply<'/grid/summary', 'get'>[number];
type Policy = Reply<'/policies', 'get'>[number];
type Resolved = Reply<'/policies/{key}/resolve', 'get'>;
type PolicyBody = Body<'/policies/{key}', 'put'>;

export function GridPage({ me }: { me: Me }) {
  const { t } = useI18n();
  const nodes = useGridNodes();
  const levels = [`L1 ${t('l1')}`, `L2 ${t('l2')}`, `L3 ${t('l3')}`, `L4 ${t('l4')}`];
  const [summary, setSummary] = useState(new Map<string, Summary>());
  useEffect(() => {
    request('get', '/grid/summary')
      .then((s) => setSummary(new Map(s.map((x) => [x.id, x]))))
      .catch(() => undefined);
  }, []);
  // Roots are the nodes whose parent is not visible (a grid worker's tree starts at their grid).
  const roots = nodes.filter((n) => !nodes.some((m) => m.id === n.parent));
  const children = (id: string) => nodes.filter((n) => n.parent === id);
  const row = (n: GridNode, depth: number): preact.JSX.Element => {
    const s = summary.get(n.id);
    return (
      <>
        <tr data-node={n.id}>
          <td data-label={t('grid')} class="tree" style={{ '--depth': depth }}>
            <span title={n.id}>{n.name}</span> <span class="sub">{n.kind}</span>
          </td>
          <Cell label={t('devices')}>{s?.devices ?? 0}</Cell>
          <Cell label={t('offline')} class={s?.offline ? 'warn' : ''}>
            {s?.offline ?? 0}
          </Cell>
          {levels.map((label, l) => (
            <Cell label={label}>{s?.openTickets[l] ?? 0}</Cell>
          ))}
        </tr>
        {children(n.id).map((c) => row(c, depth + 1))}
      </>
    );
  };
  return (
    <section>
      <table class="list" data-testid="grid-tree">
        <Head cols={[t('grid'), t('devices'), t('offline'), ...levels]} />
        <tbody>{roots.map((r) => row(r, 0))}</tbody>
      </table>
      <Policies me={me} nodes={nodes} />
    </section>
  );
}

function Policies({ me, nodes }: { me: Me; nodes: GridNode[] }) {
  const i = useI18n();
  const { t } = i;
  const [policies, setPolicies] = useState<Policy[]>([]);
  const [at, setAt] = useState('');
  const [resolved, setResolved] = useState(new Map<string, Resolved>());
  const [editing, setEditing] = useState<string | null>(null);
  const [message, setMessage] = useState('');
  const load = () =>
    request('get', '/policies')
      .then(setPolicies)
      .catch(() => undefined);
  useEffect(() => {
    void load();
  }, []);
  useEffect(() => {
    if (!at) {
      setResolved(new Map());
      return;
    }
    Promise.all(
      policies.map((p) =>
        request('get', '/policies/{key}/resolve', { params: { key: p.key }, query: { grid: at } }).catch(
          () => null,
        ),
      ),
    ).then((list) =>
      setResolved(new Map(list.filter((r): r is Resolved => r !== null).map((r) => [r.key, r]))),
    );
  }, [at, policies]);
  const writable = can(me, 'policy:write');
  const save = async (e: Event, key: string) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setMessage('');
    try {
      const raw = String(f.get('value'));
      let value: unknown = raw;
      try {
        value = JSON.parse(raw);
      } catch {
        /* a plain string */
      }
      const minutes = Number(f.get('minutes'));
      const kind = String(f.get('kind')) as PolicyBody['scope']['kind'];
      const body: PolicyBody = {
        scope: { kind, id: kind === 'global' ? '*' : String(f.get('id')) },
        value,
        ...(minutes > 0 ? { forSeconds: minutes * 60 } : {}),
      };
      await request('put', '/policies/{key}', { params: { key }, body });
      setMessage(t('saved'));
      setEditing(null);
      await load();
    } catch (err) {
      setMessage(errorText(err));
    }
  };
  const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  const sorted = useMemo(() => [...policies].sort((a, b) => a.key.localeCompare(b.key)), [policies]);
  return (
    <>
      <h3>{t('policies')}</h3>
      <label>
        {t('resolveAt')}{' '}
        <select value={at} onChange={(e) => setAt(e.currentTarget.value)} data-testid="resolve-at">
          <option value="">—</option>
          {nodes.map((n) => (
            <option value={n.id}>{n.name}</option>
          ))}
        </select>
      </label>
      {message && <p class="hint">{message}</p>}
      <table class="list compact" data-testid="policies">
        <thead>
          <tr>
            <th>{t('policyKey')}</th>
            <th>{t('defaultValue')}</th>
            <th>{t('scope')}</th>
            <th>{`${t('value')} · ${t('source')}`}</th>
            <th>{t('actions')}</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((p) => {
            const r = resolved.get(p.key);
            return (
              <>
                <tr data-policy={p.key}>
                  <Cell label={t('policyKey')}>
                    <code>{p.key}</code>
                    <div class="sub">{p.description}</div>
                  </Cell>
                  <Cell label={t('defaultValue')}>{show(p.default)}</Cell>
                  <Cell label={t('scope')}>
                    {p.overrides.map((o) => (
                      <div>
                        {o.scope.kind}
                        {o.scope.kind !== 'global' ? `:${o.scope.id}` : ''} = {show(o.value)}
                        {o.expiresAt ? ` (${t('expires')} ${i.time(o.expiresAt)})` : ''}
                      </div>
                    ))}
                  </Cell>
                  <td data-label={`${t('value')} · ${t('source')}`} data-source={r ? r.source.kind : ''}>
                    {r ? `${show(r.value)} · ${r.source.kind}${r.source.id ? `:${r.source.id}` : ''}` : ''}
                  </td>
                  <td data-label={t('actions')}>
                    {writable && (
                      <button
                        type="button"
                        class="link"
                        onClick={() => setEditing(editing === p.key ? null : p.key)}
                      >
                        ✎
                      </button>
                    )}
                  </td>
                </tr>
                {editing === p.key && (
                  <tr>
                    <td colSpan={5} data-label={t('save')}>
                      <form class="form inline" onSubmit={(e) => save(e, p.key)}>
                        <select name="kind">
                          {['grid', 'site', 'device', 'device-type', 'global'].map((k) => (
                            <option value={k}>{k}</option>
                          ))}
                        </select>
                        <input name="id" placeholder="id" value={at} />
                        <input
                          name="value"
                          placeholder={t('value')}
                          required
                          value={show(r?.value ?? p.default)}
                        />
                        <input name="minutes" type="number" min="0" placeholder={t('forMinutes')} />
                        <button type="submit" class="primary">
                          {t('save')}
                        </button>
                      </form>
                    </td>
                  </tr>
                )}
              </>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

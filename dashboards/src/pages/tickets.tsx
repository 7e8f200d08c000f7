import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Body } from '../../../clients/api.ts';
import { TICKET_STATES } from '../../../hub/src/tickets/lifecycle.ts';
import { errorText, type Me, type Reply, request } from '../api.ts';
import { Chart } from '../chart.tsx';
import { useGridNodes } from '../hooks.ts';
import { type Key, useI18n } from '../i18n.ts';
import { go } from '../route.ts';
import { Cell, Head, Named } from '../ui.tsx';

export type Ticket = Reply<'/tickets', 'get'>['items'][number];
type Detail = Reply<'/tickets/{id}', 'get'>;
type Action = Detail['allowedActions'][number];

const STATES = TICKET_STATES;
const ACTION_NAMES: Record<string, [string, string]> = {
  accept: ['受理', 'Accept'],
  reject: ['不予受理', 'Reject'],
  dispatch: ['派发', 'Dispatch'],
  return: ['退回', 'Return'],
  sign: ['签收', 'Sign'],
  start: ['开始处置', 'Start'],
  'report-back': ['处置反馈', 'Report back'],
  verify: ['核查', 'Verify'],
  rework: ['返工', 'Rework'],
  close: ['办结', 'Close'],
  rate: ['评价', 'Rate'],
  escalate: ['升级', 'Escalate'],
  extend: ['延期', 'Extend'],
  park: ['挂起', 'Park'],
  unpark: ['恢复', 'Unpark'],
  supervise: ['督办', 'Supervise'],
  remind: ['催办', 'Remind'],
  note: ['备注', 'Note'],
  report: ['上报', 'Reported'],
  'auto-escalate': ['超时升级', 'Escalated (deadline)'],
  repeat: ['再次发生', 'Happened again'],
  'flag-recurring': ['回头看', 'Flagged as recurring'],
  overdue: ['已超时', 'Overdue'],
  'auto-resolve': ['自动办结', 'Resolved by itself'],
};
export const LEVEL_KEYS: Key[] = ['l1', 'l2', 'l3', 'l4'];
const LINK_KEYS: Record<string, Key> = { event: 'linkEvent', device: 'linkDevice', alert: 'linkAlert' };

export function TicketsPage({ me, id }: { me: Me; id?: string }) {
  return id ? <TicketDetail id={id} /> : <TicketQueue me={me} />;
}

function TicketQueue(_props: { me: Me }) {
  const i = useI18n();
  const { t } = i;
  const [filter, setFilter] = useState({ level: '', state: '', grid: '', overdue: false });
  const [items, setItems] = useState<Ticket[] | null>(null);
  const grids = useGridNodes();
  const [stats, setStats] = useState<Reply<'/stats/tickets', 'get'> | null>(null);
  useEffect(() => {
    request('get', '/stats/tickets')
      .then(setStats)
      .catch(() => undefined);
  }, []);
  useEffect(() => {
    // empty filters are left out of the query (clients/api.ts apiUrl); overdue only when asked
    request('get', '/tickets', { query: { limit: 200, ...filter, overdue: filter.overdue || undefined } })
      .then((r) => setItems(r.items))
      .catch(() => setItems([]));
  }, [filter]);
  const name = (gid: string) => grids.find((g) => g.id === gid)?.name ?? gid;
  const chart = useMemo(() => {
    const rows = (stats?.byGrid ?? []).filter((r) => r.tickets > 0);
    const pct = (v: number | null) => (v == null ? null : Math.round(v * 1000) / 10);
    const series = (['closureRate', 'onTimeRate', 'reworkRate', 'satisfactionRate'] as const).map((k) => ({
      name: t(k),
      type: 'bar',
      data: rows.map((r) => pct(r[k])),
    }));
    return {
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 40, right: 10, top: 40, bottom: 60 },
      xAxis: { type: 'category', data: rows.map((r) => name(r.gridNodeId)), axisLabel: { rotate: 30 } },
      yAxis: { type: 'value', max: 100, axisLabel: { formatter: '{value}%' } },
      series,
    };
  }, [stats, grids, i.lang]);
  return (
    <section>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          {t('level')}
          <select
            value={filter.level}
            onChange={(e) => setFilter({ ...filter, level: e.currentTarget.value })}
          >
            <option value="">{t('all')}</option>
            {LEVEL_KEYS.map((k, n) => (
              <option value={String(n + 1)}>
                {n + 1} {t(k)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('state')}
          <select
            value={filter.state}
            onChange={(e) => setFilter({ ...filter, state: e.currentTarget.value })}
          >
            <option value="">{t('all')}</option>
            {STATES.map((s) => (
              <option value={s}>{i.state(s)}</option>
            ))}
          </select>
        </label>
        <label>
          {t('grid')}
          <select value={filter.grid} onChange={(e) => setFilter({ ...filter, grid: e.currentTarget.value })}>
            <option value="">{t('all')}</option>
            {grids.map((g) => (
              <option value={g.id}>{g.name}</option>
            ))}
          </select>
        </label>
        <label class="check">
          <input
            type="checkbox"
            checked={filter.overdue}
            onChange={(e) => setFilter({ ...filter, overdue: e.currentTarget.checked })}
          />
          {t('onlyOverdue')}
        </label>
      </form>
      {items === null ? (
        <p>{t('loading')}</p>
      ) : (
        <table class="list" data-testid="tickets">
          <Head cols={[t('id'), t('title'), t('level'), t('state'), t('grid'), t('deadline')]} />
          <tbody>
            {items.map((x) => (
              <tr
                key={x.id}
                class={x.overdue ? 'overdue' : ''}
                data-ticket={x.id}
                onClick={() => go(`tickets/${encodeURIComponent(x.id)}`)}
              >
                <Cell label={t('id')}>
                  <a href={`#/tickets/${encodeURIComponent(x.id)}`}>{x.id}</a>
                </Cell>
                <Cell label={t('title')}>
                  <span class={`badge sev-${x.severity}`}>{i.severity(x.severity)}</span>{' '}
                  <span data-testid="ticket-title">{i.title(x)}</span>
                  {x.recurring ? ' ↻' : ''}
                </Cell>
                <Cell label={t('level')}>
                  {x.level} {t(LEVEL_KEYS[x.level - 1] as Key)}
                </Cell>
                <Cell label={t('state')}>{i.state(x.state)}</Cell>
                <Cell label={t('grid')}>
                  <Named id={x.gridNodeId} name={x.gridNodeName ?? name(x.gridNodeId)} />
                </Cell>
                <Cell label={t('deadline')}>
                  {i.time(x.levelDueAt)}
                  {x.overdue ? ` · ${t('overdue')}` : ''}
                </Cell>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>{t('statistics')}</h3>
      <table class="list compact">
        <Head
          cols={[
            t('grid'),
            t('tickets'),
            t('closureRate'),
            t('onTimeRate'),
            t('reworkRate'),
            t('satisfactionRate'),
          ]}
        />
        <tbody>
          {(stats?.byGrid ?? []).map((r) => (
            <tr>
              <Cell label={t('grid')}>
                <Named id={r.gridNodeId} name={name(r.gridNodeId)} />
              </Cell>
              <Cell label={t('tickets')}>{r.tickets}</Cell>
              {(['closureRate', 'onTimeRate', 'reworkRate', 'satisfactionRate'] as const).map((k) => (
                <Cell label={t(k)}>{r[k] == null ? '—' : `${Math.round((r[k] as number) * 100)}%`}</Cell>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <Chart option={chart} testId="ticket-stats-chart" />
    </section>
  );
}

function TicketDetail({ id }: { id: string }) {
  const i = useI18n();
  const { t } = i;
  const [d, setD] = useState<Detail | null>(null);
  const [error, setError] = useState('');
  const [note, setNote] = useState('');
  const load = () =>
    request('get', '/tickets/{id}', { params: { id } })
      .then(setD)
      .catch((e: unknown) => setError(errorText(e)));
  useEffect(() => {
    void load();
  }, [id]);
  const act = async (action: Action) => {
    setError('');
    try {
      const body: Body<'/tickets/{id}/{action}', 'post'> = note ? { note } : {};
      if (action === 'rate') body.rating = Number(window.prompt('1–5', '5') ?? 5);
      if (action === 'extend')
        body.minutes = Number(window.prompt(i.lang === 'en' ? 'Minutes' : '延期分钟数', '60') ?? 60);
      await request('post', '/tickets/{id}/{action}', { params: { id, action }, body });
      setNote('');
      await load();
    } catch (e) {
      setError(errorText(e));
    }
  };
  if (!d) return <p>{error || t('loading')}</p>;
  const x = d.ticket;
  return (
    <section class="detail" data-testid="ticket-detail">
      <a href="#/tickets">← {t('back')}</a>
      <h2>
        <span class={`badge sev-${x.severity}`}>{i.severity(x.severity)}</span>{' '}
        <span data-testid="ticket-title">{i.title(x)}</span> <small>{x.id}</small>
      </h2>
      <dl class="facts">
        <dt>{t('state')}</dt>
        <dd>{i.state(x.state)}</dd>
        <dt>{t('level')}</dt>
        <dd>
          {x.level} {t(LEVEL_KEYS[x.level - 1] as Key)}
        </dd>
        <dt>{t('deadline')}</dt>
        <dd>
          {i.time(x.levelDueAt)} {x.overdue ? t('overdue') : ''}
        </dd>
        <dt>{t('grid')}</dt>
        <dd>
          <Named id={x.gridNodeId} name={x.gridNodeName} />
        </dd>
        <dt>{t('site')}</dt>
        <dd data-testid="ticket-site">
          <Named id={x.siteId} name={x.siteName} />
        </dd>
        <dt>{t('device')}</dt>
        <dd data-testid="ticket-device">
          <Named id={x.deviceId} name={x.deviceName} />
        </dd>
        <dt>{t('assignee')}</dt>
        <dd data-testid="ticket-assignee">
          <Named id={x.assigneeId} name={x.assigneeName} />
        </dd>
        {x.departmentId && (
          <>
            <dt>{t('department')}</dt>
            <dd data-testid="ticket-department">
              <Named id={x.departmentId} name={x.departmentName} />
            </dd>
          </>
        )}
      </dl>
      <h3>{t('actions')}</h3>
      <div class="buttons wrap">
        <input value={note} onInput={(e) => setNote(e.currentTarget.value)} placeholder={t('note')} />
        {d.allowedActions.map((a) => (
          <button type="button" onClick={() => act(a)} data-action={a}>
            {ACTION_NAMES[a]?.[i.lang === 'en' ? 1 : 0] ?? a}
          </button>
        ))}
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <h3>{t('timeline')}</h3>
      <ol class="timeline">
        {d.timeline.map((e) => (
          <li>
            <time>{i.time(e.at)}</time>{' '}
            <strong>{ACTION_NAMES[e.action]?.[i.lang === 'en' ? 1 : 0] ?? e.action}</strong>{' '}
            <span title={e.actor} data-actor={e.actor}>
              {i.actor(e.actor, e.actorName)}
            </span>
            {e.toState ? ` → ${i.state(e.toState)}` : ''} {e.note ? `· ${e.note}` : ''}
          </li>
        ))}
      </ol>
      <h3>{t('links')}</h3>
      <ul>
        {d.links.map((l) => (
          <li data-link={l.kind}>
            {LINK_KEYS[l.kind] ? t(LINK_KEYS[l.kind] as Key) : l.kind}:{' '}
            {l.kind === 'alert' ? (
              <a href="#/alarms">{l.ref}</a>
            ) : (
              <span title={l.ref}>
                {l.name ?? l.ref}
                {l.kind === 'event' && l.name ? ` · ${l.ref.slice(l.ref.indexOf(':') + 1)}` : ''}
              </span>
            )}{' '}
            · {i.time(l.at)}
          </li>
        ))}
      </ul>
    </section>
  );
}

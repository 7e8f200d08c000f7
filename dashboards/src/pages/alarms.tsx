import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { SEVERITY_RANK } from '../../../hub/src/contract/severity.ts';
import { can, checkSession, errorText, type Me, type Reply, request } from '../api.ts';
import { useNow } from '../hooks.ts';
import { useI18n } from '../i18n.ts';
import { Siren } from '../sound.ts';
import { Named } from '../ui.tsx';

/** An alert as GET /alerts lists it (and the stream sends it). */
export type Alert = Reply<'/alerts', 'get'>['items'][number];

/**
 * The alarm board: active alerts live over server-sent events, most severe first. EventSource
 * reconnects by itself and sends Last-Event-ID, so the hub replays what was missed; after a
 * reconnect the list is also reloaded, so nothing is lost even beyond the replay window.
 */
export function AlarmBoard({ me }: { me: Me }) {
  const i = useI18n();
  const { t } = i;
  const [alerts, setAlerts] = useState(new Map<string, Alert>());
  const [connected, setConnected] = useState(false);
  const [muted, setMuted] = useState(false);
  const [error, setError] = useState('');
  const now = useNow();
  const siren = useRef(new Siren());

  useEffect(() => {
    let closed = false;
    const load = () =>
      request('get', '/alerts', { query: { active: true, limit: 500 } })
        .then((r) => !closed && setAlerts(new Map(r.items.map((a) => [a.id, a]))))
        .catch(() => undefined);
    const es = new EventSource('/api/v1/alerts/stream');
    let dropped = false;
    es.onopen = () => {
      setConnected(true);
      if (dropped) void load();
      dropped = false;
    };
    es.onerror = () => {
      setConnected(false);
      dropped = true;
      // An ended session looks like a drop to EventSource; asking once tells them apart (signed
      // out returns the console to the sign-in page).
      void checkSession();
    };
    es.addEventListener('alert', (e) => {
      const { alert } = JSON.parse((e as MessageEvent<string>).data) as { action: string; alert: Alert };
      setAlerts((prev) => {
        const next = new Map(prev);
        if (alert.state === 'resolved') next.delete(alert.id);
        else next.set(alert.id, alert);
        return next;
      });
    });
    void load();
    return () => {
      closed = true;
      es.close();
    };
  }, []);

  const list = useMemo(
    () =>
      [...alerts.values()].sort(
        (a, b) =>
          SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || b.createdAt.localeCompare(a.createdAt),
      ),
    [alerts],
  );
  const alarming = list.some((a) => a.severity === 'critical' && a.state === 'raised');
  useEffect(() => {
    if (alarming && !muted) siren.current.start();
    else siren.current.stop();
  }, [alarming, muted]);
  useEffect(() => () => siren.current.stop(), []);

  const act = async (a: Alert, action: 'ack' | 'resolve' | 'false-alarm') => {
    setError('');
    let reason: string | undefined;
    if (action !== 'ack') {
      reason = window.prompt(t('reasonPrompt')) ?? '';
      if (action === 'false-alarm' && !reason) return;
    }
    const params = { id: a.id };
    const body = { reason: reason || undefined };
    try {
      const updated =
        action === 'ack'
          ? await request('post', '/alerts/{id}/ack', { params })
          : action === 'resolve'
            ? await request('post', '/alerts/{id}/resolve', { params, body })
            : await request('post', '/alerts/{id}/false-alarm', { params, body });
      setAlerts((prev) => {
        const next = new Map(prev);
        if (updated.state === 'resolved') next.delete(updated.id);
        else next.set(updated.id, updated);
        return next;
      });
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <section
      class={`board ${alarming ? 'alarming' : ''}`}
      data-testid="alarm-board"
      data-sound={alarming && !muted ? 'on' : 'off'}
      data-critical={alarming ? 'yes' : 'no'}
      data-connection={connected ? 'open' : 'reconnecting'}
    >
      <div class="bar">
        <h2>
          {t('activeAlarms')} <span class="count">{list.length}</span>
        </h2>
        <span class={`conn ${connected ? 'ok' : 'bad'}`}>{connected ? t('live') : t('reconnecting')}</span>
        <button type="button" class="link" onClick={() => setMuted(!muted)} data-testid="mute">
          {muted ? t('soundOff') : t('soundOn')}
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {list.length === 0 && <p class="empty">{t('noAlarms')}</p>}
      <ul class="alerts">
        {list.map((a) => (
          <li
            key={a.id}
            class={`alert sev-${a.severity} st-${a.state}`}
            data-alert-id={a.id}
            data-state={a.state}
            data-device={a.deviceId ?? ''}
          >
            <div class="head">
              <span class={`badge sev-${a.severity}`}>{i.severity(a.severity)}</span>
              <strong class="title" data-testid="alert-title">
                {i.title(a)}
              </strong>
              <span class="state">{i.state(a.state)}</span>
            </div>
            <dl>
              <dt>{t('site')}</dt>
              <dd data-testid="alert-site">
                {a.siteId ? (
                  <Named id={a.siteId} name={a.siteName} />
                ) : (
                  <Named id={a.gridNodeId} name={a.gridNodeName} />
                )}
              </dd>
              <dt>{t('device')}</dt>
              <dd data-testid="alert-device">
                <Named id={a.deviceId} name={a.deviceName} />
              </dd>
              <dt>{t('cause')}</dt>
              <dd>
                {i.cause(a.cause)}
                {a.count > 1 ? ` ×${a.count}` : ''}
              </dd>
              <dt>{t('elapsed')}</dt>
              <dd class="elapsed">{i.duration(now - Date.parse(a.createdAt))}</dd>
              <dt>{t('step')}</dt>
              <dd data-testid="alert-step">
                {Math.min(a.step + 1, a.chain.length)}/{a.chain.length} ·{' '}
                <Named id={a.chain[a.step]} name={a.chainNames?.[a.step]} />
              </dd>
              {a.ackedBy && (
                <>
                  <dt>{t('ackedBy')}</dt>
                  <dd data-testid="alert-acked-by">
                    <span title={a.ackedBy}>{i.actor(a.ackedBy, a.ackedByName)}</span> · {i.time(a.ackedAt)}
                  </dd>
                </>
              )}
            </dl>
            <div class="buttons">
              {a.state === 'raised' && can(me, 'alert:ack') && (
                <button type="button" class="primary" onClick={() => act(a, 'ack')} data-action="ack">
                  {t('acknowledge')}
                </button>
              )}
              {can(me, 'alert:resolve') && (
                <>
                  <button type="button" onClick={() => act(a, 'resolve')} data-action="resolve">
                    {t('resolve')}
                  </button>
                  <button type="button" onClick={() => act(a, 'false-alarm')} data-action="false-alarm">
                    {t('falseAlarm')}
                  </button>
                </>
              )}
              {a.ticketId && <a href={`#/tickets/${encodeURIComponent(a.ticketId)}`}>{a.ticketId}</a>}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

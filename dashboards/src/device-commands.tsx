import { useEffect, useState } from 'preact/hooks';
import type { Body } from '../../clients/api.ts';
import { can, errorText, type Me, type Reply, request } from './api.ts';
import { useI18n } from './i18n.ts';
import { Head } from './ui.tsx';

type Command = Reply<'/devices/{id}/commands', 'get'>[number];
type RequestBody = Body<'/devices/{id}/commands', 'post'>;

// Kept beside the component while the devices page is being reworked; they move into i18n.ts then.
const TEXT = {
  'zh-CN': {
    title: '远程指令',
    silence: '消音',
    selftest: '自检',
    configure: '配置',
    send: '发送',
    settings: '配置项（JSON）',
    sent: '已发送',
    type: '指令',
    state: '状态',
    by: '发起人',
    at: '时间',
    expires: '有效期至',
    result: '结果',
    none: '暂无指令',
    hint: '设备休眠时，指令会保留到它下次联网（有效期内）。',
    states: {
      queued: '排队中',
      sent: '已送达设备',
      acknowledged: '设备已接受',
      done: '已完成',
      failed: '失败',
      expired: '已过期',
    } as Record<string, string>,
    ok: '正常',
    failedResult: '异常',
    via: '经平台',
  },
  en: {
    title: 'Commands',
    silence: 'Silence',
    selftest: 'Self-test',
    configure: 'Configure',
    send: 'Send',
    settings: 'Settings (JSON)',
    sent: 'Sent',
    type: 'Command',
    state: 'State',
    by: 'By',
    at: 'Time',
    expires: 'Valid until',
    result: 'Result',
    none: 'No commands yet',
    hint: 'A sleeping device gets the command when it next connects (while the command is valid).',
    states: {
      queued: 'queued',
      sent: 'delivered to the device',
      acknowledged: 'accepted by the device',
      done: 'done',
      failed: 'failed',
      expired: 'expired',
    } as Record<string, string>,
    ok: 'ok',
    failedResult: 'failed',
    via: 'via',
  },
};

/**
 * A device's command log with buttons for the commands its model takes (silence, self-test,
 * configure), shown to those allowed to send them; refreshed every two seconds so the person sees
 * the device take the command and report back.
 */
export function DeviceCommands({ id, me }: { id: string; me: Me }) {
  const i = useI18n();
  const x = TEXT[i.lang];
  const [log, setLog] = useState<Command[] | null>(null);
  const [offered, setOffered] = useState<string[]>([]);
  const [settings, setSettings] = useState('{"heartbeatMinutes": 60}');
  const [error, setError] = useState('');
  const allowed = can(me, 'device:command');

  useEffect(() => {
    request('get', '/devices/{id}', { params: { id } })
      .then(async (d) => {
        const models = await request('get', '/device-models/');
        setOffered(models.find((m) => m.id === d.model)?.commands ?? []);
      })
      .catch(() => undefined);
    let stop = false;
    const poll = () =>
      request('get', '/devices/{id}/commands', { params: { id } })
        .then((l) => !stop && setLog(l))
        .catch(() => undefined);
    void poll();
    const timer = window.setInterval(poll, 2000);
    return () => {
      stop = true;
      window.clearInterval(timer);
    };
  }, [id]);

  const send = async (type: string) => {
    setError('');
    try {
      const body = (
        type === 'configure' ? { type, settings: JSON.parse(settings) as unknown } : { type }
      ) as RequestBody;
      const c = await request('post', '/devices/{id}/commands', { params: { id }, body });
      setLog((l) => [c, ...(l ?? [])]);
    } catch (err) {
      setError(err instanceof SyntaxError ? err.message : errorText(err));
    }
  };

  const result = (c: Command) => {
    if (!c.result) return '';
    if (c.result.selftest) return `${x.selftest}: ${c.result.selftest === 'ok' ? x.ok : x.failedResult}`;
    return [c.result.status, c.result.reason].filter(Boolean).join(': ');
  };

  return (
    <section class="card" data-testid="device-commands">
      <h3>{x.title}</h3>
      {allowed && offered.length > 0 && (
        <div class="buttons">
          {offered
            .filter((t) => t !== 'configure')
            .map((t) => (
              <button type="button" data-command={t} onClick={() => send(t)}>
                {t === 'silence' ? x.silence : x.selftest}
              </button>
            ))}
          {offered.includes('configure') && (
            <>
              <label>
                {x.settings}
                <input value={settings} onInput={(e) => setSettings(e.currentTarget.value)} />
              </label>
              <button type="button" data-command="configure" onClick={() => send('configure')}>
                {x.configure}
              </button>
            </>
          )}
        </div>
      )}
      {allowed && <p class="hint">{x.hint}</p>}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {log === null ? (
        <p>{i.t('loading')}</p>
      ) : log.length === 0 ? (
        <p class="empty">{x.none}</p>
      ) : (
        <table class="list compact">
          <Head cols={[x.type, x.state, x.by, x.at, x.expires, x.result]} />
          <tbody>
            {log.map((c) => (
              <tr key={c.id} data-command-id={c.id} data-type={c.type} data-state={c.state}>
                <td>{x[c.type as 'silence' | 'selftest' | 'configure'] ?? c.type}</td>
                <td>
                  {x.states[c.state] ?? c.state}
                  {c.via && (
                    <div class="sub" data-testid="via" title={c.via.platformCommandId ?? ''}>
                      {x.via} {c.via.integrationId}
                    </div>
                  )}
                </td>
                <td>{c.createdBy.replace(/^person:/, '')}</td>
                <td>{i.time(c.createdAt)}</td>
                <td>{i.time(c.expiresAt)}</td>
                <td>{result(c)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

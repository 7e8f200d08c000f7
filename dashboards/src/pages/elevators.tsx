import { useEffect, useMemo, useState } from 'preact/hooks';
import { type Me, type Reply, request } from '../api.ts';
import { Chart } from '../chart.tsx';
import { useI18n } from '../i18n.ts';
import { go } from '../route.ts';
import { Cell, Head, Named } from '../ui.tsx';
import type { Ticket } from './tickets.tsx';

type Health = Reply<'/elevators/health', 'get'>[number];
type Device = Reply<'/devices/{id}', 'get'>;

export function ElevatorsPage({ me: _me, id }: { me: Me; id?: string }) {
  return id ? <Elevator id={id} /> : <Ranking />;
}

function useElevators(): Map<string, Device> {
  const [devices, setDevices] = useState(new Map<string, Device>());
  useEffect(() => {
    request('get', '/devices/', { query: { type: 'elevator-monitor', limit: 1000 } })
      .then((r) => setDevices(new Map(r.items.map((d) => [d.id, d]))))
      .catch(() => undefined);
  }, []);
  return devices;
}

function Ranking() {
  const { t } = useI18n();
  const [list, setList] = useState<Health[] | null>(null);
  const devices = useElevators();
  useEffect(() => {
    const to = new Date();
    const from = new Date(to.getTime() - 7 * 86_400_000);
    request('get', '/elevators/health', {
      query: { sort: 'score', from: from.toISOString(), to: to.toISOString() },
    })
      .then(setList)
      .catch(() => setList([]));
  }, []);
  if (!list) return <p>{t('loading')}</p>;
  return (
    <section>
      <h2>{t('healthRanking')}</h2>
      <table class="list" data-testid="elevator-ranking">
        <Head
          cols={[
            t('device'),
            t('site'),
            t('score'),
            t('gradeLabel'),
            t('trips'),
            t('faults'),
            t('availability'),
          ]}
        />
        <tbody>
          {list.map((h) => {
            const d = devices.get(h.deviceId);
            return (
              <tr
                key={h.deviceId}
                onClick={() => go(`elevators/${encodeURIComponent(h.deviceId)}`)}
                data-elevator={h.deviceId}
              >
                <Cell label={t('device')}>
                  <a href={`#/elevators/${encodeURIComponent(h.deviceId)}`} title={h.deviceId}>
                    {d?.name ?? h.deviceId}
                  </a>
                </Cell>
                <Cell label={t('site')}>
                  <Named id={d?.siteId} name={d?.siteName} />
                </Cell>
                <Cell label={t('score')}>{h.score}</Cell>
                <Cell label={t('gradeLabel')}>
                  <span class={`grade g-${h.grade}`}>{h.grade}</span>
                </Cell>
                <Cell label={t('trips')}>{h.trips ?? '—'}</Cell>
                <Cell label={t('faults')}>{h.faults}</Cell>
                <Cell label={t('availability')}>{(h.availability * 100).toFixed(1)}%</Cell>
              </tr>
            );
          })}
        </tbody>
      </table>
      {list.length === 0 && <p class="empty">{t('none')}</p>}
    </section>
  );
}

function Elevator({ id }: { id: string }) {
  const i = useI18n();
  const { t } = i;
  const [days, setDays] = useState(7);
  const [daily, setDaily] = useState<Health[] | null>(null);
  const [tickets, setTickets] = useState<Ticket[]>([]);
  const [device, setDevice] = useState<Device | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    request('get', '/devices/{id}', { params: { id } })
      .then(setDevice)
      .catch(() => setDevice(null));
  }, [id]);
  useEffect(() => {
    request('get', '/elevators/{id}/health', { params: { id }, query: { days } })
      .then(setDaily)
      .catch((e: Error) => setError(e.message));
  }, [id, days]);
  useEffect(() => {
    request('get', '/tickets', { query: { device: id, open: true } })
      .then((r) => setTickets(r.items))
      .catch(() => undefined);
  }, [id]);
  const day = (h: Health) => h.from.slice(5, 10);
  const usage = useMemo(
    () => ({
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 50, right: 50, top: 40, bottom: 30 },
      xAxis: { type: 'category', data: (daily ?? []).map(day) },
      yAxis: [{ type: 'value' }, { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }],
      series: [
        { name: t('trips'), type: 'bar', data: (daily ?? []).map((h) => h.trips ?? 0) },
        { name: t('doorCycles'), type: 'bar', data: (daily ?? []).map((h) => h.doorCycles ?? 0) },
        {
          name: t('availability'),
          type: 'line',
          yAxisIndex: 1,
          data: (daily ?? []).map((h) => Math.round(h.availability * 1000) / 10),
        },
      ],
    }),
    [daily, i.lang],
  );
  const faults = useMemo(() => {
    const codes = [...new Set((daily ?? []).flatMap((h) => Object.keys(h.faultsByCode)))].sort();
    return {
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 40, right: 50, top: 40, bottom: 30 },
      xAxis: { type: 'category', data: (daily ?? []).map(day) },
      yAxis: [
        { type: 'value', minInterval: 1 },
        { type: 'value', name: 'mm' },
      ],
      series: [
        ...codes.map((c) => ({
          name: i.elevatorCode(c),
          type: 'bar',
          stack: 'faults',
          data: (daily ?? []).map((h) => h.faultsByCode[c] ?? 0),
        })),
        {
          name: t('leveling'),
          type: 'line',
          yAxisIndex: 1,
          data: (daily ?? []).map((h) => h.levelingErrorMm?.maxAbs ?? null),
        },
      ],
    };
  }, [daily, i.lang]);
  const last = daily?.[daily.length - 1];
  return (
    <section class="detail" data-testid="elevator-detail">
      <a href="#/elevators">← {t('back')}</a>
      <h2 data-testid="elevator-name">
        <span title={id}>{device?.name ?? id}</span> {device?.siteName && <small>{device.siteName}</small>}{' '}
        {last && <span class={`grade g-${last.grade}`}>{last.grade}</span>}
      </h2>
      <label>
        {t('range')}{' '}
        <select
          value={String(days)}
          onChange={(e) => setDays(Number(e.currentTarget.value))}
          data-testid="range"
        >
          {[7, 30, 90].map((n) => (
            <option value={String(n)}>
              {n} {t('days')}
            </option>
          ))}
        </select>
      </label>
      {error && <p class="error">{error}</p>}
      <h3>
        {t('trips')} · {t('doorCycles')} · {t('availability')}
      </h3>
      <Chart option={usage} testId="elevator-usage-chart" />
      <h3>
        {t('faultsByCode')} · {t('leveling')}
      </h3>
      <Chart option={faults} testId="elevator-faults-chart" />
      <h3>{t('openTickets')}</h3>
      <ul>
        {tickets.map((x) => (
          <li>
            <a href={`#/tickets/${encodeURIComponent(x.id)}`}>{x.id}</a> {i.title(x)} · {i.state(x.state)}
          </li>
        ))}
        {tickets.length === 0 && <li class="empty">{t('none')}</li>}
      </ul>
    </section>
  );
}

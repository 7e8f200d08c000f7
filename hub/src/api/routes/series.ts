import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { DeviceRegistry } from '../../devices/registry.ts';
import { GridhubError } from '../../errors.ts';
import { elevatorHealth } from '../../timeseries/elevator-health.ts';
import type { LocalSeriesStore } from '../../timeseries/local-store.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const HOUR = 3_600_000;
const Range = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'default: 24 h before `to`' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'default: now' })),
};
function range(q: { from?: string; to?: string }): [number, number] {
  const to = q.to ? Date.parse(q.to) : Date.now();
  const from = q.from ? Date.parse(q.from) : to - 24 * HOUR;
  if (!(from < to)) throw new GridhubError('GH_ERR_VALIDATION', '`from` must be before `to`');
  return [from, to];
}

const Health = Type.Object({
  deviceId: Type.String(),
  from: Type.String(),
  to: Type.String(),
  trips: Type.Union([Type.Number(), Type.Null()]),
  doorCycles: Type.Union([Type.Number(), Type.Null()]),
  runningHours: Type.Union([Type.Number(), Type.Null()]),
  faults: Type.Integer(),
  faultsByCode: Type.Record(Type.String(), Type.Integer()),
  downtimeMinutes: Type.Number(),
  availability: Type.Number(),
  mtbfHours: Type.Union([Type.Number(), Type.Null()]),
  mttrMinutes: Type.Union([Type.Number(), Type.Null()]),
  levelingErrorMm: Type.Union([Type.Object({ mean: Type.Number(), maxAbs: Type.Number() }), Type.Null()]),
  components: Type.Object({ availability: Type.Number(), faults: Type.Number(), leveling: Type.Number() }),
  weighted: Type.Number({
    description: 'weighted average of the components (availability 50 %, faults 30 %, levelling 20 %)',
  }),
  score: Type.Number({
    description: '0–100: the weighted average floored at the worst component (never above the weakest part)',
  }),
  grade: Type.Enum(['H1', 'H2', 'H3', 'H4']),
});

/** Charts and elevator health from the local store, whichever sink is configured. */
export const seriesRoutes: FastifyPluginAsyncTypebox<{
  series: LocalSeriesStore;
  registry: DeviceRegistry;
}> = async (app, { series, registry }) => {
  app.get(
    '/series',
    {
      schema: {
        tags: ['series'],
        summary:
          'One field of one device over a range: raw below a one-minute step, else 1-minute or hourly aggregates',
        querystring: Type.Object({
          device: Type.String(),
          field: Type.String({ description: 'e.g. runCount, doorCycles, level, battery' }),
          step: Type.Integer({ minimum: 1, default: 60, description: 'seconds' }),
          ...Range,
        }),
        response: {
          200: Type.Object({
            device: Type.String(),
            field: Type.String(),
            points: Type.Array(
              Type.Object({
                t: Type.String(),
                value: Type.Number(),
                min: Type.Optional(Type.Number()),
                max: Type.Optional(Type.Number()),
                n: Type.Optional(Type.Integer()),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      const device = await registry.get(req.principal, req.query.device);
      const [from, to] = range(req.query);
      return {
        device: device.id,
        field: req.query.field,
        points: await series.query(device.id, req.query.field, from, to, req.query.step * 1000),
      };
    },
  );

  app.get(
    '/elevators/health',
    {
      schema: {
        tags: ['elevators'],
        summary: 'Elevators you may see, ranked by health score (worst first by default)',
        querystring: Type.Object({
          ...Range,
          sort: Type.Enum(['score', '-score', 'faults', 'trips'], { default: 'score' }),
        }),
        response: { 200: Type.Array(Health), ...errorResponses },
      },
    },
    async (req) => {
      const [from, to] = range(req.query);
      const { items } = await registry.list(req.principal, {
        type: 'elevator-monitor',
        limit: 1000,
        offset: 0,
      });
      const list: Awaited<ReturnType<typeof elevatorHealth>>[] = [];
      for (const d of items)
        if (d.status !== 'decommissioned') list.push(await elevatorHealth(series, d.id, from, to));
      const key = req.query.sort.replace('-', '') as 'score' | 'faults' | 'trips';
      const dir = req.query.sort.startsWith('-') || key !== 'score' ? -1 : 1;
      // Equal scores (the same weakest part) are ordered by the weighted average.
      return list.sort(
        (a, b) =>
          dir * ((a[key] ?? 0) - (b[key] ?? 0)) || (key === 'score' ? dir * (a.weighted - b.weighted) : 0),
      );
    },
  );

  app.get(
    '/elevators/:id/health',
    {
      schema: {
        tags: ['elevators'],
        summary: 'One elevator’s health per day over a range (default: the last 7 days)',
        params: IdParams,
        querystring: Type.Object({ days: Type.Integer({ minimum: 1, maximum: 366, default: 7 }) }),
        response: { 200: Type.Array(Health), ...errorResponses },
      },
    },
    async (req) => {
      const device = await registry.get(req.principal, req.params.id);
      if (device.type !== 'elevator-monitor')
        throw new GridhubError('GH_ERR_VALIDATION', `device '${device.id}' is not an elevator`);
      const end = Date.now();
      const dayStart = end - (end % (24 * HOUR));
      const days: Awaited<ReturnType<typeof elevatorHealth>>[] = [];
      for (let i = 0; i < req.query.days; i++) {
        const from = dayStart - (req.query.days - 1 - i) * 24 * HOUR;
        days.push(await elevatorHealth(series, device.id, from, Math.min(from + 24 * HOUR, end)));
      }
      return days;
    },
  );
};

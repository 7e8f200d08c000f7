import { sql } from 'kysely';
import { type Principal, requirePermission } from '../auth/principal.ts';
import type { PolicyService } from '../policies/policy-service.ts';
import { eachRange, maxRowid } from '../store/pages.ts';
import type { Db } from '../store/store.ts';
import { timeSlicer } from '../yield.ts';
import { perSeverity } from './alert-context.ts';
import type { AlertQueries } from './alert-queries.ts';
import type { AlertStore } from './alert-store.ts';

/** What decides an alert's visibility and its acknowledgement deadline: the SQL groups by it. */
export interface AlertPlace {
  emergency_unit_id: string | null;
  severity: string;
  grid_path: string;
  site_id: string | null;
  device_id: string | null;
}

export interface AlertStatsRow {
  unitId: string | null;
  severity: string;
  alerts: number;
  acknowledged: number;
  meanSecondsToAck: number | null;
  ackedWithinDeadline: number | null;
}

/** Bound parameters per query stay far below SQLite's limit. */
const THRESHOLDS_PER_QUERY = 500;

/**
 * Acknowledgement statistics per emergency unit and severity, summed in SQL a rowid range at a time
 * (one pass over 200,000 alerts in memory held the event loop for seconds). Rows are grouped by
 * everything that decides visibility and the deadline (unit, severity, grid path, site, device);
 * for each group SQL counts the acknowledgements within every deadline the policies can give
 * (`deadlinesMs`: a handful of values), and the group's own deadline picks its count.
 * Groups come out in the order of their first visible alert, as a scan of the table would.
 */
export async function alertStats(
  db: Db,
  see: (place: AlertPlace) => boolean,
  deadlineMs: (place: AlertPlace) => number,
  deadlinesMs: readonly number[],
): Promise<AlertStatsRow[]> {
  const slice = timeSlicer();
  const deadlines = [...new Set(deadlinesMs)];
  const column = new Map(deadlines.map((d, i) => [d, i]));
  const groups = new Map<
    string,
    { first: number; alerts: number; acked: number; ackMs: number; within: number }
  >();
  const max = await maxRowid(db, 'alerts');
  await eachRange(
    max,
    async (lo, hi) => {
      const parts = new Map<
        string,
        { place: AlertPlace; first: number; alerts: number; acked: number; ackMs: number; within: number[] }
      >();
      for (let from = 0; from < Math.max(deadlines.length, 1); from += THRESHOLDS_PER_QUERY) {
        const part = deadlines.slice(from, from + THRESHOLDS_PER_QUERY);
        const rows = await db
          .selectFrom('alerts')
          .select([
            'emergency_unit_id',
            'severity',
            'grid_path',
            'site_id',
            'device_id',
            sql<number>`count(*)`.as('alerts'),
            sql<number>`count(acked_at)`.as('acked'),
            sql<number | null>`sum(acked_at - created_at)`.as('ack_ms'),
            sql<number>`min(rowid)`.as('first'),
            ...part.map((d, i) =>
              sql<number | null>`sum(case when acked_at - created_at <= ${d} then 1 else 0 end)`.as(`w${i}`),
            ),
          ])
          .where(sql<number>`rowid`, '>=', lo)
          .where(sql<number>`rowid`, '<', hi)
          .groupBy(['emergency_unit_id', 'severity', 'grid_path', 'site_id', 'device_id'])
          .execute();
        for (const r of rows) {
          await slice();
          const place: AlertPlace = {
            emergency_unit_id: r.emergency_unit_id,
            severity: r.severity,
            grid_path: r.grid_path,
            site_id: r.site_id,
            device_id: r.device_id,
          };
          const key = JSON.stringify(Object.values(place));
          const within = part.map((_, i) =>
            Number((r as unknown as Record<string, number | null>)[`w${i}`] ?? 0),
          );
          const got = parts.get(key);
          if (got) got.within.push(...within);
          else
            parts.set(key, {
              place,
              first: Number(r.first),
              alerts: Number(r.alerts),
              acked: Number(r.acked),
              ackMs: Number(r.ack_ms ?? 0),
              within,
            });
        }
      }
      for (const p of parts.values()) {
        await slice();
        if (!see(p.place)) continue;
        const key = `${p.place.emergency_unit_id ?? ''}\u0000${p.place.severity}`;
        const deadline = deadlineMs(p.place);
        const at = column.get(deadline);
        if (at === undefined)
          throw new Error(`acknowledgement deadline ${deadline} ms is not among ${deadlines.join(', ')}`);
        const within = p.within[at] as number;
        const g = groups.get(key);
        if (!g) groups.set(key, { first: p.first, alerts: p.alerts, acked: p.acked, ackMs: p.ackMs, within });
        else {
          g.first = Math.min(g.first, p.first);
          g.alerts += p.alerts;
          g.acked += p.acked;
          g.ackMs += p.ackMs;
          g.within += within;
        }
      }
    },
    slice,
  );
  return [...groups.entries()]
    .sort(([, a], [, b]) => a.first - b.first)
    .map(([key, g]) => {
      const [unit, severity] = key.split('\u0000') as [string, string];
      return {
        unitId: unit || null,
        severity,
        alerts: g.alerts,
        acknowledged: g.acked,
        meanSecondsToAck: g.acked ? Math.round((g.ackMs / 1000 / g.acked) * 100) / 100 : null,
        ackedWithinDeadline: g.alerts ? Math.round((g.within / g.alerts) * 10_000) / 10_000 : null,
      };
    });
}

/**
 * Alert statistics: mean time to acknowledge and the share acknowledged within the deadline, per
 * emergency unit and severity (GET /api/v1/stats/alerts), over the alerts the caller may see.
 */
export class AlertStats {
  constructor(
    private readonly alerts: AlertStore,
    private readonly policies: PolicyService,
    private readonly queries: AlertQueries,
  ) {}

  private get db() {
    return this.alerts.db;
  }

  private visibility(principal: Principal) {
    return this.queries.visibility(principal);
  }

  private perSeverity(
    key: 'alert.ackSeconds',
    severity: string,
    at: { gridPath: string; siteId: string | null; deviceId: string | null },
  ): number {
    return perSeverity(this.policies, key, severity, at);
  }

  async stats(principal: Principal): Promise<AlertStatsRow[]> {
    requirePermission(principal, 'alert:read');
    const see = await this.visibility(principal);
    // Every deadline a policy can give (perSeverity falls back to critical, then 60 s), so SQL can
    // count acknowledgements within each and every group take its own.
    const key = 'alert.ackSeconds';
    const maps = [
      this.policies.definition(key).default as Record<string, number>,
      ...(this.policies.list().find((p) => p.definition.key === key)?.overrides ?? []).map(
        (o) => o.value as Record<string, number>,
      ),
    ];
    const deadlines = [60_000, ...maps.flatMap((m) => Object.values(m).map((s) => s * 1000))];
    return alertStats(
      this.db,
      see,
      (g) =>
        this.perSeverity(key, g.severity, {
          gridPath: g.grid_path,
          siteId: g.site_id,
          deviceId: g.device_id,
        }),
      deadlines,
    );
  }
}

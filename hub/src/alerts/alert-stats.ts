import { type Principal, requirePermission } from '../auth/principal.ts';
import type { PolicyService } from '../policies/policy-service.ts';
import type { AlertRow } from '../store/tables.ts';
import { perSeverity } from './alert-context.ts';
import type { AlertQueries } from './alert-queries.ts';
import type { AlertStore } from './alert-store.ts';

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

  async stats(principal: Principal): Promise<
    {
      unitId: string | null;
      severity: string;
      alerts: number;
      acknowledged: number;
      meanSecondsToAck: number | null;
      ackedWithinDeadline: number | null;
    }[]
  > {
    requirePermission(principal, 'alert:read');
    const see = await this.visibility(principal);
    const rows = (await this.db.selectFrom('alerts').selectAll().execute()).filter(see);
    const groups = new Map<string, AlertRow[]>();
    for (const r of rows) {
      const k = `${r.emergency_unit_id ?? ''}\u0000${r.severity}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    return [...groups.entries()].map(([k, list]) => {
      const [unit, severity] = k.split('\u0000') as [string, string];
      const acked = list.filter((r) => r.acked_at != null);
      const secs = acked.map((r) => ((r.acked_at as number) - r.created_at) / 1000);
      const within = acked.filter(
        (r) =>
          (r.acked_at as number) - r.created_at <=
          this.perSeverity('alert.ackSeconds', r.severity, {
            gridPath: r.grid_path,
            siteId: r.site_id,
            deviceId: r.device_id,
          }),
      );
      return {
        unitId: unit || null,
        severity,
        alerts: list.length,
        acknowledged: acked.length,
        meanSecondsToAck: secs.length
          ? Math.round((secs.reduce((a, b) => a + b, 0) / secs.length) * 100) / 100
          : null,
        ackedWithinDeadline: list.length ? Math.round((within.length / list.length) * 10_000) / 10_000 : null,
      };
    });
  }
}

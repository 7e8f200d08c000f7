import type { Bus } from '../bus.ts';
import type { AlertChangeAction } from '../contract/staff-messages.ts';
import type { AlertRow } from '../store/tables.ts';
import { alertView } from './alert-view.ts';

/**
 * Every change of an alert goes on the bus as `alert.changed`, numbered and with its delivery scope
 * (grid path, site, unit), and nowhere else: the alert topic, the console's stream and anything
 * else that follows alerts take it from there (hub/src/output).
 */
export class AlertFeed {
  private seq = 0;

  constructor(private readonly bus: Bus) {}

  changed(row: AlertRow, action: AlertChangeAction): void {
    this.bus.emit('alert.changed', {
      seq: ++this.seq,
      action,
      alert: alertView(row),
      scope: { gridPath: row.grid_path, siteId: row.site_id, emergencyUnitId: row.emergency_unit_id },
    });
  }
}

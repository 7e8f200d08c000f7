import type { Generated } from 'kysely';

/** Row shapes of the elevators' maintenance visits (the store composes them in store/tables.ts; times are epoch ms). */

export interface MaintenanceVisitTable {
  id: Generated<number>;
  device_id: string;
  at: number;
  by: string;
  notes: string | null;
  ticket_id: string | null;
}

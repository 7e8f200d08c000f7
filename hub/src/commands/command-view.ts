import type { CommandPayload, CommandType } from '../contract/payloads.ts';
import type { DeviceCommandRow } from '../store/tables.ts';
import { isoTime as iso } from '../time.ts';
import type { CommandState, CommandView } from './command-schemas.ts';

/** A stored command as the API shows it. */
export function commandView(r: DeviceCommandRow): CommandView {
  return {
    id: r.id,
    deviceId: r.device_id,
    type: r.type as CommandType,
    settings: r.settings ? (JSON.parse(r.settings) as CommandView['settings']) : null,
    state: r.state as CommandState,
    createdBy: r.created_by,
    createdAt: iso(r.created_at) as string,
    expiresAt: iso(r.expires_at) as string,
    sentAt: iso(r.sent_at),
    acknowledgedAt: iso(r.acknowledged_at),
    finishedAt: iso(r.finished_at),
    result: r.result ? (JSON.parse(r.result) as CommandView['result']) : null,
  };
}

/** A stored command as the device gets it on its `cmd` topic (TOPICS.command). */
export function commandPayload(r: DeviceCommandRow): CommandPayload {
  const base = { commandId: r.id, expiresAt: r.expires_at };
  if (r.type === 'configure')
    return {
      ...base,
      type: 'configure',
      settings: JSON.parse(r.settings ?? '{}') as Record<string, string>,
    };
  return { ...base, type: r.type as 'silence' | 'selftest' };
}

import { randomBytes } from 'node:crypto';
import type { CommandPayload, CommandType } from '../contract/payloads.ts';
import type { DeviceCommandRow } from '../store/tables.ts';
import { isoTime as iso } from '../time.ts';
import {
  type CommandRequest,
  type CommandState,
  type CommandView,
  DEFAULT_TTL_SECONDS,
} from './command-schemas.ts';

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
    via: r.via_integration
      ? { integrationId: r.via_integration, platformCommandId: r.platform_command_id }
      : null,
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

/** A new command as stored: queued, for the broker (via null) or a platform integration. */
export function newCommandRow(
  actor: string,
  deviceId: string,
  body: CommandRequest,
  via: string | null,
  now: number,
): DeviceCommandRow {
  return {
    id: `C${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`,
    device_id: deviceId,
    type: body.type,
    settings: body.type === 'configure' ? JSON.stringify(body.settings ?? {}) : null,
    state: 'queued',
    created_by: actor,
    created_at: now,
    expires_at: now + (body.ttlSeconds ?? DEFAULT_TTL_SECONDS[body.type]) * 1000,
    sent_at: null,
    acknowledged_at: null,
    finished_at: null,
    result: null,
    updated_at: now,
    via_integration: via,
    platform_command_id: null,
  };
}

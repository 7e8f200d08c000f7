import Type, { type TSchema } from 'typebox';
import { COMMAND_TYPES, CommandSettingsSchema, type CommandType } from '../contract/payloads.ts';
import type { AnyDeviceModel } from '../devices/models/index.ts';

/**
 * queued: stored and handed to the broker (held in the device's persistent session, or re-sent
 * when the device connects); sent: the device's client acknowledged the message (PUBACK);
 * acknowledged: the device took it on (cmd/ack accepted); done / failed: its outcome (cmd/ack, or
 * the matching event: a self-test result, a silenced report); expired: no outcome before its TTL.
 */
export const COMMAND_STATES = ['queued', 'sent', 'acknowledged', 'done', 'failed', 'expired'] as const;
export type CommandState = (typeof COMMAND_STATES)[number];
export const OPEN_COMMAND_STATES: readonly CommandState[] = ['queued', 'sent', 'acknowledged'];

/**
 * How long a command stays worth carrying out when the request does not say. A silence is about
 * the alarm sounding now; a self-test or a new setting can wait for a sleeping NB-IoT device's next
 * daily report (24 h heartbeat + 1 h grace).
 */
export const DEFAULT_TTL_SECONDS: Record<CommandType, number> = {
  silence: 15 * 60,
  selftest: 25 * 3600,
  configure: 25 * 3600,
};
export const MAX_TTL_SECONDS = 7 * 24 * 3600;

const ttlSeconds = Type.Optional(
  Type.Integer({
    minimum: 1,
    maximum: MAX_TTL_SECONDS,
    description: 'seconds the command stays valid; default per type (silence 15 min, others 25 h)',
  }),
);

/**
 * The route checks only the shape; values are checked against the device's model (its
 * `commandSchema`) without type coercion — the API's coercing validator would turn a number
 * setting into a string when it tries the union's string branch first.
 */
export const CommandRequest = Type.Object(
  {
    type: Type.Enum(COMMAND_TYPES),
    settings: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'configure only: the settings the model declares (see its commandSchema)',
      }),
    ),
    ttlSeconds,
  },
  { additionalProperties: false },
);
export type CommandRequest = Type.Static<typeof CommandRequest>;

/** The request bodies one model takes: its command types, and for `configure` its own settings. */
export function modelCommandSchema(model: AnyDeviceModel): TSchema {
  return Type.Union(
    model.commands.map((type) =>
      Type.Object(
        type === 'configure'
          ? { type: Type.Literal(type), settings: model.settingsSchema ?? CommandSettingsSchema, ttlSeconds }
          : { type: Type.Literal(type), ttlSeconds },
        { additionalProperties: false },
      ),
    ),
  );
}

export const CommandView = Type.Object({
  id: Type.String(),
  deviceId: Type.String(),
  type: Type.Enum(COMMAND_TYPES),
  settings: Type.Union([CommandSettingsSchema, Type.Null()]),
  state: Type.Enum(COMMAND_STATES),
  createdBy: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  sentAt: Type.Union([Type.String(), Type.Null()]),
  acknowledgedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  result: Type.Union([
    Type.Object({
      status: Type.Optional(Type.String()),
      reason: Type.Optional(Type.String()),
      selftest: Type.Optional(Type.String()),
      event: Type.Optional(Type.String()),
    }),
    Type.Null(),
  ]),
  via: Type.Union(
    [
      Type.Object({
        integrationId: Type.String(),
        platformCommandId: Type.Union([Type.String(), Type.Null()], {
          description:
            'the platform’s id of the command once it took it (CTWing commandId, OneNET cmd_uuid, ChirpStack queue item id)',
        }),
      }),
      Type.Null(),
    ],
    { description: 'the integration whose platform carries it; null: the hub’s MQTT broker' },
  ),
});
export type CommandView = Type.Static<typeof CommandView>;

export const CommandListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
});

/** Which states a command may move to from each (an outcome reported after expiry still counts). */
export const NEXT_COMMAND_STATES: Record<CommandState, readonly CommandState[]> = {
  queued: ['sent', 'acknowledged', 'done', 'failed', 'expired'],
  sent: ['acknowledged', 'done', 'failed', 'expired'],
  acknowledged: ['done', 'failed', 'expired'],
  expired: ['done', 'failed'],
  done: [],
  failed: [],
};

/** Device events that report a command's outcome. */
export const RESULT_EVENTS: Record<string, CommandType> = { selftest: 'selftest', silenced: 'silence' };

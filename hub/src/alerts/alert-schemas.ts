import Type from 'typebox';
import { NameOf, SEVERITIES, TitleFields } from '../tickets/ticket-schemas.ts';

export const ALERT_STATES = ['raised', 'acknowledged', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export const WEBHOOK_KINDS = ['generic', 'wecom', 'dingtalk', 'feishu'] as const;
export type WebhookKind = (typeof WEBHOOK_KINDS)[number];

export const AlertView = Type.Object({
  id: Type.String(),
  severity: Type.Enum(SEVERITIES),
  cause: Type.String(),
  title: Type.String({ description: 'Chinese text (chat robots, MQTT); the console renders titleCode' }),
  ...TitleFields,
  deviceId: Type.Union([Type.String(), Type.Null()]),
  deviceName: NameOf('device'),
  deviceType: Type.Union([Type.String(), Type.Null()]),
  siteId: Type.Union([Type.String(), Type.Null()]),
  siteName: NameOf('site'),
  gridNodeId: Type.String(),
  gridNodeName: NameOf('grid node'),
  emergencyUnitId: Type.Union([Type.String(), Type.Null()]),
  emergencyUnitName: NameOf('emergency unit'),
  ticketId: Type.Union([Type.String(), Type.Null()]),
  state: Type.Enum(ALERT_STATES),
  count: Type.Integer({
    description: 'how many times the incident was reported while this alert was active',
  }),
  chain: Type.Array(Type.String(), { description: 'escalation chain, person ids in order' }),
  chainNames: Type.Optional(
    Type.Array(Type.Union([Type.String(), Type.Null()]), {
      description: 'the chain’s names, in the same order (API responses)',
    }),
  ),
  step: Type.Integer({ description: 'index in the chain reached so far (0 = first person)' }),
  nextStepAt: Type.Union([Type.String(), Type.Null()]),
  ackedBy: Type.Union([Type.String(), Type.Null()]),
  ackedByName: NameOf('person who acknowledged'),
  ackedAt: Type.Union([Type.String(), Type.Null()]),
  ackChannel: Type.Union([Type.String(), Type.Null()]),
  resolvedBy: Type.Union([Type.String(), Type.Null()]),
  resolvedByName: NameOf('person who resolved'),
  resolvedAt: Type.Union([Type.String(), Type.Null()]),
  resolution: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type AlertView = Type.Static<typeof AlertView>;

export const DeliveryView = Type.Object({
  step: Type.Integer(),
  recipient: Type.String({ description: 'a person id, or a webhook target id' }),
  recipientName: NameOf('person or webhook target'),
  channel: Type.String(),
  attempt: Type.Integer(),
  at: Type.String(),
  result: Type.Enum(['queued', 'delivered', 'no-channel', 'failed', 'retrying', 'suppressed'], {
    description:
      'queued: handed to the broker for a person who can receive it; delivered: their client acknowledged it (MQTT PUBACK) or the webhook answered 2xx; no-channel: the person has no session and no token, so the next person is paged at once',
  }),
  detail: Type.Union([Type.String(), Type.Null()]),
  confirmedAt: Type.Optional(
    Type.Union([Type.String(), Type.Null()], { description: 'when the recipient’s client acknowledged it' }),
  ),
});
export type DeliveryView = Type.Static<typeof DeliveryView>;

export const AlertListQuery = Type.Object({
  state: Type.Optional(Type.Enum(ALERT_STATES)),
  active: Type.Optional(Type.Boolean({ description: 'raised or acknowledged' })),
  severity: Type.Optional(Type.Enum(SEVERITIES)),
  unit: Type.Optional(Type.String()),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
});
export type AlertListQuery = Type.Static<typeof AlertListQuery>;

export const WebhookTargetBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    kind: Type.Enum(WEBHOOK_KINDS),
    url: Type.String({
      pattern: '^https?://',
      maxLength: 1000,
      description: 'the robot or receiver URL, with its key/access_token',
    }),
    secret: Type.Optional(
      Type.String({
        maxLength: 200,
        description: 'signing secret (generic HMAC, DingTalk 加签, Feishu 签名校验)',
      }),
    ),
    scope: Type.Object({ kind: Type.Enum(['unit', 'grid']), id: Type.String() }),
    minSeverity: Type.Enum(SEVERITIES, { default: 'major' }),
  },
  { additionalProperties: false },
);
export type WebhookTargetBody = Type.Static<typeof WebhookTargetBody>;

export const WebhookTargetView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.Enum(WEBHOOK_KINDS),
  url: Type.String({
    description:
      'shown with its credentials masked (every query value, and path tokens such as Feishu’s hook id)',
  }),
  hasSecret: Type.Boolean(),
  scope: Type.Object({ kind: Type.String(), id: Type.String() }),
  minSeverity: Type.Enum(SEVERITIES),
});

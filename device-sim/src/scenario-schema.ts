import Type from 'typebox';
import { SCOPE_KINDS } from '../../hub/src/policies/definitions.ts';

/**
 * A scenario: devices to register, policies to shorten for the run, a timeline of what the devices
 * do, and expectations checked against the hub's API. Device payloads are the hub's own payload
 * schemas (hub/src/contract/payloads.ts): the runner validates every one before sending it.
 */
const DeviceRef = Type.String({ description: 'a name from `devices`' });

export const ScenarioStep = Type.Union([
  Type.Object(
    { at: Type.Number({ minimum: 0 }), device: DeviceRef, event: Type.Record(Type.String(), Type.Unknown()) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      at: Type.Number({ minimum: 0 }),
      device: DeviceRef,
      telemetry: Type.Record(Type.String(), Type.Unknown()),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { at: Type.Number({ minimum: 0 }), device: DeviceRef, connect: Type.Literal(true) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      at: Type.Number({ minimum: 0 }),
      device: DeviceRef,
      command: Type.Record(Type.String(), Type.Unknown(), {
        description: 'a POST /api/v1/devices/:id/commands body, e.g. { type: silence }',
      }),
    },
    { additionalProperties: false, description: 'staff send the device a command through the API' },
  ),
  Type.Object(
    {
      at: Type.Number({ minimum: 0 }),
      devices: Type.Array(DeviceRef, { minItems: 1 }),
      offline: Type.Literal(true),
    },
    { additionalProperties: false, description: 'the devices’ sockets die at once (their last wills fire)' },
  ),
  Type.Object(
    {
      at: Type.Number({ minimum: 0 }),
      device: DeviceRef,
      garbage: Type.Integer({ minimum: 1, maximum: 100_000 }),
    },
    { additionalProperties: false, description: 'a broken device floods its event topic with junk' },
  ),
]);
export type ScenarioStep = Type.Static<typeof ScenarioStep>;

export const Expectation = Type.Union([
  Type.Object(
    {
      within: Type.Number({ exclusiveMinimum: 0, description: 'seconds after the timeline ends' }),
      ticket: Type.Object(
        {
          category: Type.String(),
          site: Type.Optional(Type.String()),
          device: Type.Optional(DeviceRef),
          levelAtLeast: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
          severity: Type.Optional(Type.String()),
          count: Type.Optional(Type.Integer({ minimum: 0 })),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      within: Type.Number({ exclusiveMinimum: 0 }),
      alert: Type.Object(
        {
          unit: Type.Optional(Type.String()),
          cause: Type.Optional(Type.String()),
          state: Type.Optional(Type.String()),
          stepAtLeast: Type.Optional(Type.Integer({ minimum: 0 })),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      within: Type.Number({ exclusiveMinimum: 0 }),
      noTicket: Type.Object(
        { category: Type.String(), site: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false, description: 'checked once `within` has passed' },
  ),
  Type.Object(
    {
      within: Type.Number({ exclusiveMinimum: 0 }),
      rejected: Type.Object(
        { device: DeviceRef, code: Type.String(), atLeast: Type.Integer({ minimum: 1 }) },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { within: Type.Number({ exclusiveMinimum: 0 }), hubReady: Type.Literal(true) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      within: Type.Number({ exclusiveMinimum: 0 }),
      command: Type.Object(
        {
          device: DeviceRef,
          type: Type.String(),
          state: Type.String({ description: 'queued, sent, acknowledged, done, failed or expired' }),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false, description: 'the device’s command log shows this command in this state' },
  ),
]);
export type Expectation = Type.Static<typeof Expectation>;

export const Scenario = Type.Object(
  {
    name: Type.String(),
    description: Type.Optional(Type.String()),
    policies: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: Type.String(),
            scope: Type.Object({ kind: Type.Enum(SCOPE_KINDS), id: Type.String() }),
            value: Type.Unknown(),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    devices: Type.Record(
      Type.String(),
      Type.Object(
        {
          model: Type.String(),
          site: Type.String(),
          ingress: Type.Optional(
            Type.Enum(['mqtt', 'onenet', 'ctwing', 'chirpstack'], {
              description:
                'how the device reaches the hub: its own MQTT (default), or through OneNET, CTWing or ChirpStack (issue 20)',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    timeline: Type.Array(ScenarioStep),
    expect: Type.Array(Expectation, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type Scenario = Type.Static<typeof Scenario>;

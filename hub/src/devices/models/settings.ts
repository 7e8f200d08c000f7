import Type from 'typebox';

/**
 * Settings that `configure` commands may carry, per kind of device (model records point at one).
 * Every object refuses unknown keys: a mistyped setting is an error at the API, not a silent no-op
 * on a device on a ceiling.
 */
const heartbeatMinutes = Type.Integer({
  minimum: 5,
  maximum: 1440,
  description: 'minutes between heartbeats (GB 20517-2025: battery reported at least every 24 h)',
});

export const batterySettings = Type.Object(
  { heartbeatMinutes: Type.Optional(heartbeatMinutes) },
  { additionalProperties: false, minProperties: 1 },
);

export const levelSettings = Type.Object(
  {
    heartbeatMinutes: Type.Optional(heartbeatMinutes),
    sampleSeconds: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 3600, description: 'how often the level is measured' }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const elevatorSettings = Type.Object(
  {
    reportSeconds: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 60, description: 'running-state report interval while moving' }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

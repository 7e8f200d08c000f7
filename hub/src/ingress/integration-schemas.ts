import Type from 'typebox';
import { RegisterDeviceBody } from '../devices/device-schemas.ts';
import { IdSchema } from '../grid/community-schema.ts';

export const INTEGRATION_KINDS = ['onenet', 'ctwing', 'chirpstack'] as const;
export type IntegrationKind = (typeof INTEGRATION_KINDS)[number];

const ChirpstackSettings = Type.Object(
  {
    url: Type.String({
      pattern: '^mqtts?://',
      maxLength: 300,
      description: 'the network server’s MQTT broker, mqtt://host:1883 or mqtts://host:8883',
    }),
    applicationId: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[A-Za-z0-9_-]+$',
      description:
        'ChirpStack application id; the hub subscribes to application/<id>/device/+/event/{up,join,status}',
    }),
    username: Type.Optional(Type.String({ maxLength: 100 })),
    clientId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'client id on that broker (the operator’s choice; default gridhub-<integration id>)',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Where and as whom the hub calls the platform's command API (CTWing AEP, OneNET); ChirpStack: the downlink port. */
export const CommandApi = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        pattern: '^https?://',
        maxLength: 300,
        description:
          'the platform API’s base URL (default CTWing https://ag-api.ctwing.cn, OneNET https://api.heclouds.com); outbound.allow applies',
      }),
    ),
    appKey: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description: 'CTWing: the application’s App Key (application header)',
      }),
    ),
    productId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 32,
        pattern: '^[0-9A-Za-z_-]+$',
        description: 'CTWing: the product id',
      }),
    ),
    operator: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'CTWing: operator name in its command log (default gridhub)',
      }),
    ),
    fPort: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 223, description: 'ChirpStack: downlink FPort (default 10)' }),
    ),
  },
  { additionalProperties: false },
);
export type CommandApi = Type.Static<typeof CommandApi>;

/** Secrets of the command API; sealed like the OneNET token, never returned. */
export const CommandSecrets = Type.Object(
  {
    appSecret: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'CTWing: App Secret (signs each call)' }),
    ),
    masterKey: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'CTWing: the product’s MasterKey' }),
    ),
    apiKey: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'OneNET: the product’s master APIKey' }),
    ),
  },
  { additionalProperties: false },
);
export type CommandSecrets = Type.Static<typeof CommandSecrets>;

const AllowIps = Type.Array(Type.String({ maxLength: 64 }), {
  maxItems: 64,
  description:
    'source addresses or CIDRs a push must come from (the platform’s push servers); empty = any address with a valid signature/token',
});

export const CreateIntegrationBody = Type.Object(
  {
    id: Type.Optional(IdSchema),
    kind: Type.Enum(INTEGRATION_KINDS),
    name: Type.String({ minLength: 1, maxLength: 100 }),
    models: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      maxItems: 50,
      description: 'device models this integration carries; a message for another model is refused',
    }),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    token: Type.Optional(
      Type.String({
        minLength: 8,
        maxLength: 128,
        description:
          'OneNET: the token set in the push configuration (empty = the hub makes one). CTWing: always made by the hub',
      }),
    ),
    allowIps: Type.Optional(AllowIps),
    chirpstack: Type.Optional(ChirpstackSettings),
    chirpstackPassword: Type.Optional(Type.String({ maxLength: 200 })),
    commandApi: Type.Optional(CommandApi),
    commandSecrets: Type.Optional(CommandSecrets),
  },
  { additionalProperties: false },
);
export type CreateIntegrationBody = Type.Static<typeof CreateIntegrationBody>;

export const UpdateIntegrationBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    models: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 50 })),
    enabled: Type.Optional(Type.Boolean()),
    allowIps: Type.Optional(AllowIps),
    chirpstack: Type.Optional(ChirpstackSettings),
    chirpstackPassword: Type.Optional(Type.String({ maxLength: 200 })),
    commandApi: Type.Optional(CommandApi),
    commandSecrets: Type.Optional(CommandSecrets),
  },
  { additionalProperties: false },
);
export type UpdateIntegrationBody = Type.Static<typeof UpdateIntegrationBody>;

export const ConnectionState = Type.Object({
  state: Type.Enum(['connecting', 'connected', 'reconnecting', 'stopped']),
  since: Type.String(),
  lastError: Type.Union([Type.String(), Type.Null()]),
});
export type ConnectionState = Type.Static<typeof ConnectionState>;

export const IntegrationView = Type.Object({
  id: Type.String(),
  kind: Type.Enum(INTEGRATION_KINDS),
  name: Type.String(),
  models: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  allowIps: Type.Array(Type.String(), { description: 'admins only (empty for other readers)' }),
  chirpstack: Type.Union([ChirpstackSettings, Type.Null()], {
    description: 'the network server’s broker; admins only (null for other readers)',
  }),
  pushPath: Type.Union([Type.String(), Type.Null()], {
    description: 'where the platform pushes (without the token); null for ChirpStack',
  }),
  hasSecret: Type.Boolean({ description: 'a token / password is stored; it is never returned' }),
  commandApi: Type.Union([CommandApi, Type.Null()]),
  commandsReady: Type.Boolean({
    description:
      'commands to its devices can go out: ChirpStack always; CTWing with appKey, productId, appSecret and masterKey; OneNET with apiKey',
  }),
  connection: Type.Union([ConnectionState, Type.Null()], { description: 'ChirpStack only' }),
  counts: Type.Object(
    {
      accepted: Type.Integer(),
      duplicates: Type.Integer(),
      refused: Type.Integer(),
      unmatched: Type.Integer(),
    },
    { description: 'messages since the hub started' },
  ),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type IntegrationView = Type.Static<typeof IntegrationView>;

export const IntegrationWithSecret = Type.Object({
  integration: IntegrationView,
  token: Type.Union([Type.String(), Type.Null()], {
    description: 'the push token (OneNET: paste as Token; CTWing: part of the URL), shown only this once',
  }),
  pushUrl: Type.Union([Type.String(), Type.Null()], {
    description: 'the URL to paste into the platform console (CTWing: with its token), shown only this once',
  }),
});

export const UnmatchedView = Type.Object({
  identity: Type.String(),
  identityKind: Type.Enum(['imei', 'platformDeviceId', 'devEui']),
  firstAt: Type.String(),
  lastAt: Type.String(),
  count: Type.Integer(),
  excerpt: Type.String({ description: 'the latest message for it, as the platform sent it' }),
});
export type UnmatchedView = Type.Static<typeof UnmatchedView>;

/** Register an unmatched device: the registration, with the identity taken from the list. */
export const RegisterUnmatchedBody = Type.Omit(RegisterDeviceBody, ['imei', 'platformDeviceId', 'devEui'], {
  additionalProperties: false,
});
export type RegisterUnmatchedBody = Type.Static<typeof RegisterUnmatchedBody>;

export const IntegrationParams = Type.Object({ id: IdSchema });
export const UnmatchedParams = Type.Object({
  id: IdSchema,
  identity: Type.String({ minLength: 1, maxLength: 64 }),
});

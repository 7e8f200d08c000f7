import Type from 'typebox';
import { DeviceTypeSchema } from '../contract/payloads.ts';
import { IdSchema } from '../grid/community-schema.ts';
import { NameOf } from '../tickets/ticket-schemas.ts';

export const DEVICE_STATUSES = ['provisioned', 'active', 'maintenance', 'decommissioned'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];
export const DeviceStatusSchema = Type.Enum(DEVICE_STATUSES);

export const DeviceView = Type.Object({
  id: Type.String(),
  model: Type.String(),
  modelName: Type.Optional(
    Type.Object(
      { zh: Type.String(), en: Type.String() },
      { description: 'the model’s name (API responses)' },
    ),
  ),
  type: DeviceTypeSchema,
  name: Type.Union([Type.String(), Type.Null()]),
  serial: Type.Union([Type.String(), Type.Null()]),
  siteId: Type.String(),
  siteName: NameOf('site'),
  gridNodeId: Type.String(),
  gridNodeName: NameOf('grid node'),
  emergencyUnitId: Type.Union([Type.String(), Type.Null()]),
  emergencyUnitName: NameOf('emergency unit'),
  status: DeviceStatusSchema,
  online: Type.Boolean(),
  lastSeenAt: Type.Union([Type.String(), Type.Null()]),
  imei: Type.Union([Type.String(), Type.Null()], { description: 'IMEI of an NB-IoT unit' }),
  platformDeviceId: Type.Union([Type.String(), Type.Null()], {
    description: 'the device id a carrier platform (OneNET dev_id, CTWing deviceId) gave it',
  }),
  devEui: Type.Union([Type.String(), Type.Null()], { description: 'LoRaWAN DevEUI (lower case)' }),
  installedBy: Type.String(),
  installedAt: Type.String(),
  installNotes: Type.Union([Type.String(), Type.Null()]),
  installPhotoUrl: Type.Union([Type.String(), Type.Null()]),
  battery: Type.Optional(
    Type.Union([Type.Number(), Type.Null()], { description: 'latest battery % reported (lists only)' }),
  ),
  secretRotatedAt: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type DeviceView = Type.Static<typeof DeviceView>;

export const RegisterDeviceBody = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'device model id (GET /api/v1/device-models)' }),
    site: IdSchema,
    id: Type.Optional(IdSchema),
    name: Type.Optional(Type.String({ maxLength: 100 })),
    serial: Type.Optional(Type.String({ maxLength: 64, description: 'IMEI or vendor serial' })),
    imei: Type.Optional(
      Type.String({
        pattern: '^[0-9]{15}$',
        description: 'IMEI (15 digits) of an NB-IoT unit that reports through CTWing or OneNET',
      }),
    ),
    platformDeviceId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9_.:-]+$',
        description: 'the device id the platform gave it (OneNET dev_id, CTWing deviceId)',
      }),
    ),
    devEui: Type.Optional(
      Type.String({ pattern: '^[0-9A-Fa-f]{16}$', description: 'LoRaWAN DevEUI, 16 hex digits' }),
    ),
    gridNode: Type.Optional(IdSchema),
    emergencyUnit: Type.Optional(IdSchema),
    installNotes: Type.Optional(Type.String({ maxLength: 1000 })),
    installPhotoUrl: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type RegisterDeviceBody = Type.Static<typeof RegisterDeviceBody>;

export const DeviceWithSecret = Type.Object({
  device: DeviceView,
  secret: Type.String({ description: 'shown only this once; the hub keeps only its SHA-256 hash' }),
});

export const DeviceListQuery = Type.Object({
  grid: Type.Optional(IdSchema),
  site: Type.Optional(IdSchema),
  type: Type.Optional(DeviceTypeSchema),
  model: Type.Optional(Type.String()),
  status: Type.Optional(DeviceStatusSchema),
  online: Type.Optional(Type.Boolean()),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
});
export type DeviceListQuery = Type.Static<typeof DeviceListQuery>;

export const DeviceList = Type.Object({ total: Type.Integer(), items: Type.Array(DeviceView) });

/** CSV import: one problem per bad cell, with the file line it came from. */
export const CsvProblem = Type.Object({ line: Type.Integer(), column: Type.String(), reason: Type.String() });
export type CsvProblem = Type.Static<typeof CsvProblem>;

export const CSV_COLUMNS = [
  'id',
  'model',
  'site',
  'name',
  'serial',
  'gridNode',
  'emergencyUnit',
  'installNotes',
  'imei',
  'platformDeviceId',
  'devEui',
] as const;
export const CSV_REQUIRED = ['model', 'site'] as const;

export const CsvImportResult = Type.Object({
  dryRun: Type.Boolean(),
  rows: Type.Integer(),
  problems: Type.Array(CsvProblem),
  registered: Type.Array(Type.Object({ line: Type.Integer(), id: Type.String(), secret: Type.String() })),
});
export type CsvImportResult = Type.Static<typeof CsvImportResult>;

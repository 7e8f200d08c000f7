import Type from 'typebox';
import { ELEVATOR_FAULT_CODES } from './elevator-codes.ts';

/**
 * Device payload schemas: the single source of truth for what devices send. The hub's validators,
 * the OpenAPI document, the simulator's generators and the console's types all derive from these.
 *
 * Extra properties are allowed and dropped during normalisation: a firmware update that adds a
 * field must never make a fire alarm bounce (see docs/decisions.md).
 */

export const DEVICE_TYPES = [
  'panic-button',
  'smoke-detector',
  'water-leak',
  'water-level',
  'elevator-monitor',
] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];
export const DeviceTypeSchema = Type.Enum(DEVICE_TYPES);

/** Device time: epoch milliseconds; when absent the hub uses its receive time. */
const DeviceTime = Type.Optional(Type.Integer({ minimum: 0, description: 'device time, epoch ms' }));
const EventId = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'unique per device; a redelivery with the same eventId is recognised and not processed twice',
});

function event<K extends string, P extends Type.TProperties>(type: K, props: P, description: string) {
  return Type.Object(
    { eventId: EventId, type: Type.Literal(type), ts: DeviceTime, ...props },
    { description },
  );
}
const plain = <K extends string>(type: K, description: string) => event(type, {}, description);

/** What every battery device reports beside its own readings: battery level and signal. */
const batteryAndSignal = {
  battery: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  rssi: Type.Optional(Type.Number()),
};

/** The device-health events every battery device may send (each type adds its own before them). */
const healthEvents = () => [fault, faultClear, batteryLow, tamper, tamperRestore] as const;

// Common device-health events every battery device may send.
const batteryLow = event(
  'battery.low',
  { battery: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })) },
  '电量低',
);
const tamper = plain('tamper', 'removed from base / opened 防拆');
const tamperRestore = plain('tamper.restore', 'tamper restored');
const fault = event('fault', { code: Type.Optional(Type.String({ maxLength: 32 })) }, 'device fault 故障');
const faultClear = event(
  'fault.clear',
  { code: Type.Optional(Type.String({ maxLength: 32 })) },
  'fault cleared',
);
const selftest = event(
  'selftest',
  { result: Type.Union([Type.Literal('ok'), Type.Literal('failed')]) },
  '自检',
);

export const SmokeEventSchema = Type.Union([
  event('smoke.alarm', { smokeDensity: Type.Optional(Type.Number({ minimum: 0 })) }, '烟雾报警'),
  plain('smoke.clear', 'smoke alarm restored'),
  fault,
  faultClear,
  batteryLow,
  tamper,
  tamperRestore,
  selftest,
  plain('silenced', 'alarm silenced at the device 消音'),
  plain('end_of_life', 'detector reached end of life'),
]);

export const SmokeTelemetrySchema = Type.Object({
  ts: DeviceTime,
  smokeDensity: Type.Optional(Type.Number({ minimum: 0, description: 'dB/m or % obscuration, per model' })),
  battery: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  rssi: Type.Optional(Type.Number()),
  rsrp: Type.Optional(Type.Number()),
  snr: Type.Optional(Type.Number()),
  temperature: Type.Optional(Type.Number()),
});

export const WaterLeakEventSchema = Type.Union([
  plain('leak', '漏水'),
  plain('leak.clear', 'leak restored'),
  ...healthEvents(),
]);
export const WaterLeakTelemetrySchema = Type.Object({ ts: DeviceTime, ...batteryAndSignal });

export const WaterLevelEventSchema = Type.Union([...healthEvents()]);
export const WaterLevelTelemetrySchema = Type.Object({
  ts: DeviceTime,
  level: Type.Number({ description: 'water level, cm' }),
  ...batteryAndSignal,
});

export const PanicEventSchema = Type.Union([
  event(
    'press',
    {
      kind: Type.Optional(
        Type.Union([Type.Literal('single'), Type.Literal('double'), Type.Literal('long')], {
          default: 'single',
          description: 'single when the button does not say',
        }),
      ),
      callId: Type.Optional(Type.String({ maxLength: 64, description: 'one-key alarm call id' })),
      media: Type.Optional(
        Type.Array(Type.String({ maxLength: 512 }), { maxItems: 8, description: 'audio/video URLs' }),
      ),
    },
    '一键报警 press; buttons rarely send "released", so a press is an incident, not a state',
  ),
  ...healthEvents(),
  selftest,
]);
export const PanicTelemetrySchema = Type.Object({ ts: DeviceTime, ...batteryAndSignal });

/** GB/T 24476 fault codes and the add-on monitor codes (contract/elevator-codes.ts). */
const ElevatorFaultCode = Type.Enum(ELEVATOR_FAULT_CODES);

export const ElevatorEventSchema = Type.Union([
  event(
    'fault',
    {
      code: ElevatorFaultCode,
      floor: Type.Optional(Type.Integer()),
      occupied: Type.Optional(Type.Boolean()),
    },
    'elevator fault (GB/T 24476 code)',
  ),
  event('fault.clear', { code: ElevatorFaultCode }, 'elevator fault cleared'),
  tamper,
  tamperRestore,
]);

export const ElevatorTelemetrySchema = Type.Object({
  ts: DeviceTime,
  serviceMode: Type.Integer({
    minimum: 0,
    maximum: 7,
    description:
      '0 out of service, 1 normal, 2 inspection, 3 fire recall, 4 firefighter, 5 emergency power, 6 earthquake, 7 unknown',
  }),
  moving: Type.Boolean(),
  direction: Type.Union([Type.Literal('none'), Type.Literal('up'), Type.Literal('down')]),
  floor: Type.Integer(),
  doorZone: Type.Boolean(),
  door: Type.Union([
    Type.Literal('closed'),
    Type.Literal('open'),
    Type.Literal('closing'),
    Type.Literal('opening'),
  ]),
  occupied: Type.Boolean(),
  speed: Type.Optional(Type.Number({ minimum: 0 })),
  runCount: Type.Optional(Type.Integer({ minimum: 0 })),
  doorCycles: Type.Optional(Type.Integer({ minimum: 0 })),
  runningHours: Type.Optional(Type.Number({ minimum: 0 })),
  levelingErrorMm: Type.Optional(Type.Number()),
  vibration: Type.Optional(Type.Number({ minimum: 0 })),
  temperature: Type.Optional(Type.Number()),
});

/** Birth message and last will (retained). */
export const StatusSchema = Type.Object({
  state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  ts: DeviceTime,
  firmware: Type.Optional(Type.String({ maxLength: 64 })),
});
export type StatusPayload = Type.Static<typeof StatusSchema>;

export const COMMAND_TYPES = ['silence', 'selftest', 'configure'] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

/** A configure command's settings: flat key → value (each model declares which keys it takes). */
export const CommandSettingsSchema = Type.Record(
  Type.String(),
  Type.Union([Type.String(), Type.Number(), Type.Boolean()]),
);

const commandFields = {
  commandId: Type.String({ minLength: 1, maxLength: 64, description: 'answer with it on cmd/ack' }),
  expiresAt: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'epoch ms; a command that arrives later must not be carried out',
    }),
  ),
};

/** hub → device on `cmd` (QoS 1, to the device's persistent session). */
export const CommandSchema = Type.Union([
  Type.Object({ ...commandFields, type: Type.Literal('silence') }, { description: '消音: stop the sounder' }),
  Type.Object(
    { ...commandFields, type: Type.Literal('selftest') },
    { description: '自检: answer with a selftest event' },
  ),
  Type.Object(
    { ...commandFields, type: Type.Literal('configure'), settings: CommandSettingsSchema },
    { description: 'change settings declared by the model' },
  ),
]);
export type CommandPayload = Type.Static<typeof CommandSchema>;

export const COMMAND_ACK_STATUSES = ['accepted', 'done', 'failed', 'rejected'] as const;

/** device → hub on `cmd/ack`: the device took a command on (accepted), carried it out, or could not. */
export const CommandAckSchema = Type.Object({
  commandId: Type.String({ minLength: 1, maxLength: 64 }),
  status: Type.Enum(COMMAND_ACK_STATUSES, {
    description: 'accepted = received and started; done / failed = the outcome; rejected = will not do it',
  }),
  reason: Type.Optional(Type.String({ maxLength: 200 })),
  ts: DeviceTime,
});
export type CommandAckPayload = Type.Static<typeof CommandAckSchema>;

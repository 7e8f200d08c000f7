import Type, { type TSchema } from 'typebox';
import { DEPARTMENT_KINDS } from '../grid/community-schema.ts';

/**
 * Every knob of the rules, alerts and tickets is a policy (DESIGN.md contract 5): a key, a schema,
 * a default, and a description. Overrides are stored per scope and resolved from the most specific:
 * device → site → grid node (nearest first) → device type → global → this default.
 */
export interface PolicyDefinition<S extends TSchema = TSchema> {
  key: string;
  schema: S;
  default: Type.Static<S>;
  description: string;
}

/** A definition record: its default is checked against its own schema. */
const def = <S extends TSchema>(schema: S, d: Type.Static<S>, description: string) => ({
  schema,
  default: d,
  description,
});
const minutes = (description: string, d: number) => def(Type.Number({ exclusiveMinimum: 0 }), d, description);
const level = (description: string, d: number) =>
  def(Type.Integer({ minimum: 1, maximum: 4 }), d, description);
const perSeverity = (d: Record<string, number>, description: string) =>
  def(Type.Record(Type.String(), Type.Number({ exclusiveMinimum: 0 })), d, description);

const DEFS = {
  // Start level and the time a level has before the ticket climbs (DOMAIN.md time limits).
  'ticket.panic.startLevel': level('Level a panic-button incident ticket starts at (3 = street)', 3),
  'ticket.panic.levelMinutes': minutes('Minutes a level has to act on a panic ticket before it climbs', 15),
  'ticket.fire.startLevel': level('Level a smoke-alarm (fire) ticket starts at', 2),
  'ticket.fire.levelMinutes': minutes('Minutes per level for a fire ticket', 10),
  'ticket.elevator-rescue.startLevel': level('Level an elevator entrapment rescue ticket starts at', 2),
  'ticket.elevator-fault.startLevel': level('Level a critical elevator fault ticket starts at', 2),
  'ticket.elevator-fault.levelMinutes': minutes('Minutes per level for a critical elevator fault', 60),
  'ticket.flood.startLevel': level('Level a flood (water level) ticket starts at', 2),
  'ticket.flood.levelMinutes': minutes('Minutes per level for a flood ticket', 30),
  'ticket.leak.startLevel': level('Level a water-leak ticket starts at', 1),
  'ticket.leak.levelMinutes': minutes('Minutes per level for a water-leak ticket', 60),
  'ticket.maintenance.startLevel': level('Level a maintenance ticket starts at (property / micro-grid)', 1),
  'ticket.maintenance.levelMinutes': minutes(
    'Minutes per level for maintenance (3 working days)',
    3 * 24 * 60,
  ),
  'ticket.site-outage.startLevel': level('Level a site-outage ticket starts at', 2),
  'ticket.site-outage.levelMinutes': minutes('Minutes per level for a site outage', 240),
  'ticket.recurring-fault.startLevel': level('Level a recurring-fault ticket starts at', 2),
  'ticket.recurring-fault.levelMinutes': minutes('Minutes per level for a recurring fault', 3 * 24 * 60),
  'ticket.manual.levelMinutes': minutes(
    'Minutes per level for a manual ticket (help requests: 3 working days)',
    3 * 24 * 60,
  ),
  'ticket.departments': {
    // a kind no department has would send level-4 tickets nowhere (red team: any string was taken)
    schema: Type.Record(Type.String(), Type.Enum(DEPARTMENT_KINDS)),
    default: {
      fire: 'fire',
      panic: 'public-security',
      'elevator-rescue': 'fire',
      'elevator-fault': 'market-regulation',
      flood: 'water',
      leak: 'housing',
      'site-outage': 'power',
      maintenance: 'housing',
      'recurring-fault': 'market-regulation',
      manual: 'urban-management',
    },
    description: 'Which district department (by kind) takes a ticket of each category at level 4',
  },
  'ticket.recurrence.count': {
    schema: Type.Integer({ minimum: 2 }),
    default: 3,
    description: 'Tickets of one category at one site or device that flag 回头看',
  },
  'ticket.recurrence.windowDays': minutes('Window for the recurrence flag, days', 30),

  'smoke.confirm.count': {
    schema: Type.Integer({ minimum: 2 }),
    default: 2,
    description: 'Detectors alarming in one building that confirm a fire',
  },
  'smoke.confirm.windowSeconds': minutes(
    'Seconds within which the detectors must alarm to confirm a fire',
    120,
  ),

  'water.level.warningCm': {
    schema: Type.Number(),
    default: 10,
    description: 'Water level (cm) that raises a flood warning',
  },
  'water.level.alarmCm': {
    schema: Type.Number(),
    default: 25,
    description: 'Water level (cm) that raises a flood alarm',
  },
  'water.level.dwellSeconds': {
    schema: Type.Number({ minimum: 0 }),
    default: 60,
    description: 'How long a level must stay above a threshold before it counts',
  },
  'water.level.riseCmPerHour': minutes(
    'Rate of rise (cm/h) that raises a flood alarm whatever the level',
    10,
  ),
  'water.level.warningToCriticalMinutes': minutes(
    'A flood warning that lasts this long becomes critical',
    30,
  ),

  'elevator.rescue.arrivalMinutes': minutes(
    'Minutes for responders to arrive at an entrapment (30 main urban area, 60 elsewhere)',
    30,
  ),
  'elevator.recurring.count': {
    schema: Type.Integer({ minimum: 2 }),
    default: 3,
    description: 'Faults of one elevator within the window that raise a recurring-fault ticket',
  },
  'elevator.recurring.windowHours': minutes('Window for recurring elevator faults, hours', 24),
  'elevator.maintenance.intervalDays': minutes(
    'Days between maintenance visits before a ticket (TSG T5002: 15)',
    15,
  ),

  'alert.ackSeconds': perSeverity(
    { critical: 60, major: 300, minor: 900, warning: 1800 },
    'Acknowledgement deadline per severity, seconds (the share acknowledged within it is reported)',
  ),
  'alert.renotifySeconds': perSeverity(
    { critical: 30, major: 120, minor: 600, warning: 1800 },
    'Re-notify everyone notified so far at this interval until someone acknowledges, per severity',
  ),
  'alert.stepDelaySeconds': perSeverity(
    { critical: 60, major: 300, minor: 900, warning: 1800 },
    'Escalate to the next person in the chain after this long without acknowledgement, per severity',
  ),
  'alert.maxRenotify': {
    schema: Type.Integer({ minimum: 0 }),
    default: 20,
    description: 'Re-notification rounds before the hub stops repeating (escalation still goes on)',
  },
  'alert.quietHours': {
    schema: Type.Union([
      Type.Null(),
      Type.Object({
        start: Type.String({ pattern: '^\\d{2}:\\d{2}$' }),
        end: Type.String({ pattern: '^\\d{2}:\\d{2}$' }),
      }),
    ]),
    default: null,
    description:
      'Hours (Asia/Shanghai) when non-critical alerts notify nobody but the console; never applies to critical alerts',
  },
  'alert.chain': {
    schema: Type.Union([Type.Null(), Type.Array(Type.String(), { minItems: 1 })]),
    default: null,
    description:
      'Override of the escalation chain (person ids) for a site or grid; null = derived from the emergency unit and grid',
  },

  'outage.site.count': {
    schema: Type.Integer({ minimum: 2 }),
    default: 5,
    description: 'Devices of one site going offline within the window that make one site-outage ticket',
  },
  'outage.site.windowSeconds': minutes(
    'Window (and debounce) for offline devices before tickets are raised',
    120,
  ),
  'outage.site.stayBackSeconds': {
    schema: Type.Number({ minimum: 0 }),
    default: 300,
    description:
      'How long every device of a site must stay back online before its site-outage ticket closes by itself',
  },
} satisfies Record<string, Omit<PolicyDefinition, 'key'>>;

/** Every policy key; `value(key)` returns the type of that key's schema. */
export type PolicyKey = keyof typeof DEFS;
/** The value type of a policy. */
export type PolicyValue<K extends PolicyKey> = Type.Static<(typeof DEFS)[K]['schema']>;

export const POLICY_DEFINITIONS: ReadonlyMap<string, PolicyDefinition> = new Map(
  Object.entries(DEFS).map(([key, d]) => [key, { key, ...d } as PolicyDefinition]),
);

/** Is this string a policy key (keys built from a category, API paths)? */
export const isPolicyKey = (key: string): key is PolicyKey => POLICY_DEFINITIONS.has(key);

export const SCOPE_KINDS = ['global', 'device-type', 'grid', 'site', 'device'] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];

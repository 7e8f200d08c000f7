import Type from 'typebox';
import { SEVERITIES } from '../contract/severity.ts';
import { TITLE_CODES } from '../contract/titles.ts';
import { IdSchema } from '../grid/community-schema.ts';
import { TICKET_ACTIONS, TICKET_STATES } from './lifecycle.ts';

export const TICKET_CATEGORIES = [
  'panic',
  'fire',
  'elevator-rescue',
  'elevator-fault',
  'flood',
  'leak',
  'maintenance',
  'site-outage',
  'recurring-fault',
  'manual',
] as const;
export type TicketCategory = (typeof TICKET_CATEGORIES)[number];

export { SEVERITIES, type Severity } from '../contract/severity.ts';

/** A title as a code and parameters (hub/src/contract/titles.ts); `title` is its Chinese text. */
export const TitleFields = {
  titleCode: Type.Union([Type.Enum(TITLE_CODES), Type.Null()], {
    description: 'what the title says, as a code the console renders in its language; null for typed titles',
  }),
  titleParams: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()]), {
    description: 'the code’s parameters: names of the site and device, levels, counts, codes',
  }),
};

/** A display name beside an id: present in API responses (null when the id has none); MQTT payloads carry ids only. */
export const NameOf = (what: string) =>
  Type.Optional(Type.Union([Type.String(), Type.Null()], { description: `name of the ${what}` }));

export const TicketView = Type.Object({
  id: Type.String(),
  category: Type.Enum(TICKET_CATEGORIES),
  source: Type.Enum(['device-rule', 'manual', 'node-red', 'hotline']),
  severity: Type.Enum(SEVERITIES),
  level: Type.Integer({
    minimum: 1,
    maximum: 4,
    description: '1 micro-grid, 2 grid, 3 street, 4 district department',
  }),
  state: Type.Enum(TICKET_STATES),
  title: Type.String({ description: 'Chinese text (chat robots, MQTT); the console renders titleCode' }),
  ...TitleFields,
  description: Type.Union([Type.String(), Type.Null()]),
  gridNodeId: Type.String(),
  gridNodeName: NameOf('grid node'),
  siteId: Type.Union([Type.String(), Type.Null()]),
  siteName: NameOf('site'),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  deviceName: NameOf('device'),
  emergencyUnitId: Type.Union([Type.String(), Type.Null()]),
  emergencyUnitName: NameOf('emergency unit'),
  assigneeId: Type.Union([Type.String(), Type.Null()]),
  assigneeName: NameOf('assignee'),
  departmentId: Type.Union([Type.String(), Type.Null()]),
  departmentName: NameOf('department'),
  levelDueAt: Type.Union([Type.String(), Type.Null()], {
    description: 'when this level’s time runs out and the ticket climbs',
  }),
  overdue: Type.Boolean(),
  parked: Type.Boolean(),
  extended: Type.Boolean(),
  supervised: Type.Boolean(),
  reminders: Type.Integer(),
  reworkCount: Type.Integer(),
  recurring: Type.Boolean({ description: '回头看: the same problem keeps coming back' }),
  occurrences: Type.Integer(),
  satisfaction: Type.Union([Type.Integer(), Type.Null()]),
  resolution: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  closedAt: Type.Union([Type.String(), Type.Null()]),
});
export type TicketView = Type.Static<typeof TicketView>;

export const TimelineEntry = Type.Object({
  at: Type.String(),
  actor: Type.String({ description: '`person:<id>`, `rule:<name>`, `system`, `device:<id>`, …' }),
  actorName: NameOf('person who acted (null for rules and the system)'),
  action: Type.String(),
  fromState: Type.Union([Type.String(), Type.Null()]),
  toState: Type.Union([Type.String(), Type.Null()]),
  level: Type.Integer(),
  note: Type.Union([Type.String(), Type.Null()]),
  data: Type.Unknown(),
});

export const TicketDetail = Type.Object({
  ticket: TicketView,
  timeline: Type.Array(TimelineEntry),
  links: Type.Array(
    Type.Object({
      kind: Type.String({ description: 'event (`deviceId:eventId`), device, alert, …' }),
      ref: Type.String(),
      name: NameOf('linked device (event and device links)'),
      at: Type.String(),
    }),
  ),
  allowedActions: Type.Array(Type.Enum(TICKET_ACTIONS), {
    description: 'what the caller’s roles allow from the ticket’s current state',
  }),
});

export const TicketListQuery = Type.Object({
  level: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
  state: Type.Optional(Type.Enum(TICKET_STATES)),
  open: Type.Optional(Type.Boolean()),
  grid: Type.Optional(IdSchema),
  category: Type.Optional(Type.Enum(TICKET_CATEGORIES)),
  device: Type.Optional(Type.String()),
  overdue: Type.Optional(Type.Boolean()),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  offset: Type.Integer({ minimum: 0, default: 0 }),
});
export type TicketListQuery = Type.Static<typeof TicketListQuery>;

export const ManualTicketBody = Type.Object(
  {
    category: Type.Enum(TICKET_CATEGORIES, { default: 'manual' }),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 4000 })),
    gridNode: Type.Optional(IdSchema),
    site: Type.Optional(IdSchema),
    device: Type.Optional(Type.String()),
    severity: Type.Enum(SEVERITIES, { default: 'minor' }),
    level: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
    source: Type.Enum(['manual', 'node-red', 'hotline'], { default: 'manual' }),
  },
  { additionalProperties: false },
);
export type ManualTicketBody = Type.Static<typeof ManualTicketBody>;

export const ActionParams = Type.Object({ id: Type.String(), action: Type.Enum(TICKET_ACTIONS) });
export const ActionBody = Type.Object(
  {
    note: Type.Optional(Type.String({ maxLength: 4000 })),
    assignee: Type.Optional(
      Type.String({ description: 'dispatch: a person id; default from the grid tree' }),
    ),
    department: Type.Optional(Type.String({ description: 'dispatch at level 4: a department id' })),
    minutes: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: 'extend: minutes added to the level deadline' }),
    ),
    rating: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'rate: satisfaction 1–5' })),
  },
  { additionalProperties: false },
);
export type ActionBody = Type.Static<typeof ActionBody>;

const Rates = Type.Object({
  tickets: Type.Integer(),
  closed: Type.Integer(),
  closureRate: Type.Union([Type.Number(), Type.Null()]),
  onTimeRate: Type.Union([Type.Number(), Type.Null()]),
  reworkRate: Type.Union([Type.Number(), Type.Null()]),
  satisfactionRate: Type.Union([Type.Number(), Type.Null()]),
  meanMinutesToAccept: Type.Union([Type.Number(), Type.Null()]),
  meanMinutesToClose: Type.Union([Type.Number(), Type.Null()]),
});
export const TicketStats = Type.Object({
  total: Rates,
  byGrid: Type.Array(Type.Object({ gridNodeId: Type.String(), ...Rates.properties })),
  byLevel: Type.Array(Type.Object({ level: Type.Integer(), ...Rates.properties })),
});
export type TicketStats = Type.Static<typeof TicketStats>;

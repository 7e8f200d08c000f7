import Type from 'typebox';
import { RoleSchema } from '../auth/roles.ts';

/**
 * The community file: a whole community's grid tree, people, departments, sites and emergency
 * units in one JSON or YAML document. The same schema validates single-entry edits through the API.
 */
export const IdSchema = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$',
  description: 'stable id chosen by the operator (letters, digits, _ . -)',
});

export const GRID_NODE_KINDS = [
  'district',
  'street',
  'community',
  'grid',
  'micro-grid',
  'exclusive',
] as const;
export type GridNodeKind = (typeof GRID_NODE_KINDS)[number];

/** Which kinds may hang under which (exclusive grids 专属网格 hang under a street or community). */
export const ALLOWED_PARENT: Record<GridNodeKind, readonly (GridNodeKind | null)[]> = {
  district: [null],
  street: ['district'],
  community: ['street'],
  grid: ['community', 'street'],
  'micro-grid': ['grid', 'exclusive'],
  exclusive: ['street', 'community'],
};

export const EXCLUSIVE_TYPES = ['school', 'hospital', 'market', 'park', 'industrial-park', 'other'] as const;
export const DUTY_ROLES = [
  'grid-worker',
  'grid-leader',
  'community-secretary',
  'duty-room',
  'street-leader',
  'district-duty',
] as const;
export const DEPARTMENT_KINDS = [
  'urban-management',
  'housing',
  'power',
  'fire',
  'education',
  'health',
  'market-regulation',
  'water',
  'public-security',
  'emergency-management',
  'other',
] as const;
export const EMERGENCY_UNIT_KINDS = [
  'school',
  'hospital',
  'market',
  'mall',
  'residential',
  'office',
  'other',
] as const;

const lit = Type.Enum;

export const GridNodeInput = Type.Object(
  {
    id: IdSchema,
    kind: lit(GRID_NODE_KINDS),
    name: Type.String({ minLength: 1, maxLength: 100 }),
    parent: Type.Optional(Type.Union([IdSchema, Type.Null()])),
    exclusiveType: Type.Optional(lit(EXCLUSIVE_TYPES)),
    duty: Type.Optional(
      Type.Array(Type.Object({ role: lit(DUTY_ROLES), person: IdSchema }, { additionalProperties: false }), {
        description: 'duty contacts by role, in call order',
      }),
    ),
  },
  { additionalProperties: false },
);
export type GridNodeInput = Type.Static<typeof GridNodeInput>;

export const PersonInput = Type.Object(
  {
    id: IdSchema,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    phone: Type.Optional(Type.String({ pattern: '^\\+?[0-9 -]{3,20}$' })),
    roles: Type.Array(RoleSchema, { minItems: 1, uniqueItems: true }),
    scope: Type.Optional(
      Type.Object(
        {
          gridNode: Type.Optional(IdSchema),
          sites: Type.Optional(Type.Array(IdSchema, { uniqueItems: true })),
        },
        { additionalProperties: false, description: 'grid subtree served, or sites (property managers)' },
      ),
    ),
    active: Type.Optional(
      Type.Boolean({
        description:
          'false deactivates the person: no sign-in, their tokens and live sessions end; absent = unchanged (new people are active)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type PersonInput = Type.Static<typeof PersonInput>;

export const DepartmentInput = Type.Object(
  {
    id: IdSchema,
    district: IdSchema,
    kind: lit(DEPARTMENT_KINDS),
    name: Type.String({ minLength: 1, maxLength: 100 }),
    phone: Type.Optional(Type.String({ pattern: '^\\+?[0-9 -]{3,20}$' })),
    contact: Type.Optional(IdSchema),
  },
  { additionalProperties: false },
);
export type DepartmentInput = Type.Static<typeof DepartmentInput>;

export const SiteInput = Type.Object(
  {
    id: IdSchema,
    gridNode: IdSchema,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    kind: Type.Optional(Type.String({ maxLength: 40 })),
    building: Type.Optional(Type.String({ maxLength: 40 })),
    unit: Type.Optional(Type.String({ maxLength: 40 })),
    floor: Type.Optional(Type.String({ maxLength: 40 })),
    room: Type.Optional(Type.String({ maxLength: 40 })),
    address: Type.Optional(Type.String({ maxLength: 200 })),
    location: Type.Optional(
      Type.Object(
        {
          lat: Type.Number({ minimum: -90, maximum: 90 }),
          lng: Type.Number({ minimum: -180, maximum: 180 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SiteInput = Type.Static<typeof SiteInput>;

export const EmergencyUnitInput = Type.Object(
  {
    id: IdSchema,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    kind: lit(EMERGENCY_UNIT_KINDS),
    gridNode: IdSchema,
    leader: IdSchema,
    members: Type.Optional(
      Type.Array(IdSchema, { uniqueItems: true, description: 'on-call order after the leader' }),
    ),
    sites: Type.Optional(Type.Array(IdSchema, { uniqueItems: true })),
  },
  { additionalProperties: false },
);
export type EmergencyUnitInput = Type.Static<typeof EmergencyUnitInput>;

export const CommunityFile = Type.Object(
  {
    version: Type.Optional(Type.Literal(1)),
    gridNodes: Type.Optional(Type.Array(GridNodeInput)),
    people: Type.Optional(Type.Array(PersonInput)),
    departments: Type.Optional(Type.Array(DepartmentInput)),
    sites: Type.Optional(Type.Array(SiteInput)),
    emergencyUnits: Type.Optional(Type.Array(EmergencyUnitInput)),
  },
  { additionalProperties: false },
);
export type CommunityFile = Type.Static<typeof CommunityFile>;

/** What the API returns: the file's shape plus what the hub derives. */
export const GridNodeView = Type.Object({ ...GridNodeInput.properties, path: Type.String() });
export type GridNodeView = Type.Static<typeof GridNodeView>;
export const SiteView = Type.Object({
  ...SiteInput.properties,
  emergencyUnit: Type.Union([Type.String(), Type.Null()]),
});
export type SiteView = Type.Static<typeof SiteView>;
export const PersonView = Type.Object({ ...PersonInput.properties, active: Type.Boolean() });
export type PersonView = Type.Static<typeof PersonView>;

export const ImportProblem = Type.Object({ path: Type.String(), message: Type.String() });
export type ImportProblem = Type.Static<typeof ImportProblem>;

const Counts = Type.Object({ created: Type.Integer(), updated: Type.Integer(), unchanged: Type.Integer() });
export const ImportSummary = Type.Object({
  gridNodes: Counts,
  people: Counts,
  departments: Counts,
  sites: Counts,
  emergencyUnits: Counts,
});
export type ImportSummary = Type.Static<typeof ImportSummary>;

import Type from 'typebox';

export const ROLES = [
  'admin',
  'installer',
  'unit-leader',
  'grid-staff',
  'street-duty',
  'department',
  'property-manager',
] as const;
export type Role = (typeof ROLES)[number];
export const RoleSchema = Type.Enum(ROLES);

const EVERYONE = ROLES;

/**
 * What each role may do. Jurisdiction (which grid subtree or sites) is checked separately on every
 * target; a permission here only says the kind of action is open to the role.
 */
export const PERMISSIONS = {
  'grid:read': EVERYONE,
  'grid:write': ['admin'],
  'people:read': ['admin', 'street-duty'],
  'people:write': ['admin'],
  'device:read': EVERYONE,
  'device:register': ['admin', 'installer'],
  'device:manage': ['admin', 'installer'],
  'device:maintenance': ['admin', 'installer', 'property-manager'],
  /** silence, self-test, configure a device (within jurisdiction) */
  'device:command': ['admin', 'installer', 'property-manager', 'street-duty'],
  'audit:read': ['admin', 'street-duty'],
  'policy:read': EVERYONE,
  'policy:write': ['admin', 'street-duty'],
  'ticket:read': EVERYONE,
  'ticket:create': ['admin', 'grid-staff', 'street-duty', 'department', 'property-manager', 'unit-leader'],
  /** accept, reject, dispatch, return: the level's coordinators */
  'ticket:coordinate': ['admin', 'grid-staff', 'street-duty', 'department'],
  /** sign, start, report back: whoever handles the work */
  'ticket:handle': ['admin', 'grid-staff', 'street-duty', 'department', 'property-manager'],
  /** verify, rework, close */
  'ticket:verify': ['admin', 'grid-staff', 'street-duty', 'department'],
  /** escalate as beyond the level's capability */
  'ticket:escalate': ['admin', 'grid-staff', 'street-duty', 'department', 'property-manager'],
  /** approve extensions, park, supervise, remind */
  'ticket:supervise': ['admin', 'street-duty', 'department'],
  'ticket:note': EVERYONE,
  'ticket:rate': ['admin', 'grid-staff', 'street-duty', 'unit-leader', 'property-manager'],
  'maintenance:record': ['admin', 'property-manager', 'installer'],
  'alert:read': ['admin', 'grid-staff', 'street-duty', 'department', 'property-manager', 'unit-leader'],
  'alert:ack': ['admin', 'grid-staff', 'street-duty', 'department', 'property-manager', 'unit-leader'],
  'alert:resolve': ['admin', 'grid-staff', 'street-duty', 'department', 'unit-leader'],
  'webhook:write': ['admin', 'street-duty'],
  /** send a message through the hub's channels (flows, duty staff) */
  'notify:send': ['admin', 'street-duty', 'grid-staff'],
  /** register, change and remove platform integrations (CTWing, OneNET, ChirpStack) */
  'integration:write': ['admin'],
  /** see integrations (never their secrets) and their unmatched devices, to register them */
  'integration:read': ['admin', 'installer'],
  /** the nodes of a cluster and their connections (issue 19) */
  'cluster:read': ['admin'],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSIONS;

export function roleAllows(roles: readonly Role[], permission: Permission): boolean {
  const allowed: readonly Role[] = PERMISSIONS[permission];
  return roles.some((r) => allowed.includes(r));
}

/** Every permission the roles grant (the console shows only what the person may do). */
export function permissionsOf(roles: readonly Role[]): Permission[] {
  return (Object.keys(PERMISSIONS) as Permission[]).filter((p) => roleAllows(roles, p));
}

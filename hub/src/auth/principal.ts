import { GridhubError } from '../errors.ts';
import { type Permission, type Role, roleAllows } from './roles.ts';

/**
 * Who is acting and over what. `all` is an admin with no scope; `grid` covers a grid subtree (its
 * materialised path); `sites` is a property manager's set of sites.
 */
export type Jurisdiction =
  | { kind: 'all' }
  | { kind: 'grid'; nodeId: string; path: string }
  | { kind: 'sites'; siteIds: string[] };

export interface Principal {
  personId: string;
  name: string;
  roles: Role[];
  jurisdiction: Jurisdiction;
}

/** Where a target lives: the grid path of its node, and its site if it has one. */
export interface Placement {
  gridPath: string;
  siteId?: string | null;
}

export function actorOf(principal: Principal): string {
  return `person:${principal.personId}`;
}

export function requirePermission(principal: Principal, permission: Permission): void {
  if (!roleAllows(principal.roles, permission)) {
    throw new GridhubError(
      'GH_ERR_FORBIDDEN_ROLE',
      `role ${principal.roles.join(',')} may not ${permission}`,
    );
  }
}

export function covers(j: Jurisdiction, target: Placement): boolean {
  switch (j.kind) {
    case 'all':
      return true;
    case 'grid':
      return target.gridPath.startsWith(j.path);
    case 'sites':
      return target.siteId != null && j.siteIds.includes(target.siteId);
  }
}

export function requireScope(principal: Principal, target: Placement, what: string): void {
  if (!covers(principal.jurisdiction, target)) {
    throw new GridhubError('GH_ERR_FORBIDDEN_SCOPE', `${what} is outside your jurisdiction`);
  }
}

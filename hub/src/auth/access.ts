import { randomUUID } from 'node:crypto';
import { appendAudit } from '../audit/audit-log.ts';
import type { Bus } from '../bus.ts';
import { GridhubError } from '../errors.ts';
import type { Db, Store } from '../store/store.ts';
import type { PersonRow } from '../store/tables.ts';
import type { AccessChanged, Credential } from './access-events.ts';
import { newToken, sha256Hex } from './credentials.ts';
import type { Jurisdiction, Principal } from './principal.ts';
import type { Role } from './roles.ts';

export const BOOTSTRAP_ADMIN_ID = 'admin';

/** A caller and the credential it proved itself with (live sessions end when that credential does). */
export interface Authenticated {
  principal: Principal;
  credential: Credential;
}

/**
 * People as principals: bearer-token lookup, jurisdiction, token issue, and the first admin. Every
 * change to what a person may do is announced on the bus (`access.changed`), so MQTT sessions and
 * SSE streams opened under the old grant end at once.
 */
export class AccessService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
  ) {}

  /** Announce a change of access (token revoked, signed out, password or grants changed). */
  changed(change: AccessChanged): void {
    this.bus.emit('access.changed', change);
  }

  /** The people's roles, jurisdiction or activity changed: every live session of theirs ends. */
  grantsChanged(personIds: Iterable<string>): void {
    for (const personId of new Set(personIds)) this.changed({ personId, reason: 'grants-changed' });
  }

  private get db(): Db {
    return this.store.db;
  }

  async principalOf(person: PersonRow): Promise<Principal> {
    const roles = JSON.parse(person.roles) as Role[];
    let jurisdiction: Jurisdiction;
    if (person.scope_grid_node_id) {
      const node = await this.db
        .selectFrom('grid_nodes')
        .select('path')
        .where('id', '=', person.scope_grid_node_id)
        .executeTakeFirst();
      // A scope node that vanished leaves no jurisdiction at all (an empty site set), never everything.
      jurisdiction = node
        ? { kind: 'grid', nodeId: person.scope_grid_node_id, path: node.path }
        : { kind: 'sites', siteIds: [] };
    } else {
      const siteIds = JSON.parse(person.scope_site_ids) as string[];
      jurisdiction =
        siteIds.length > 0 || !roles.includes('admin') ? { kind: 'sites', siteIds } : { kind: 'all' };
    }
    return { personId: person.id, name: person.name, roles, jurisdiction };
  }

  async authenticateToken(token: string): Promise<Authenticated | undefined> {
    const person = await this.db
      .selectFrom('api_tokens')
      .innerJoin('people', 'people.id', 'api_tokens.person_id')
      .selectAll('people')
      .select('api_tokens.id as token_id')
      .where('api_tokens.token_hash', '=', sha256Hex(token))
      .where('api_tokens.revoked_at', 'is', null)
      .where('people.active', '=', 1)
      .executeTakeFirst();
    if (!person) return undefined;
    const { token_id, ...row } = person;
    return { principal: await this.principalOf(row), credential: { kind: 'token', id: token_id } };
  }

  async issueToken(
    personId: string,
    label: string,
    actor: string,
    token = newToken('ghk'),
  ): Promise<{ id: string; token: string }> {
    const person = await this.db
      .selectFrom('people')
      .select('id')
      .where('id', '=', personId)
      .executeTakeFirst();
    if (!person) throw new GridhubError('GH_ERR_PERSON_UNKNOWN', `no person '${personId}'`);
    const id = randomUUID();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('api_tokens')
        .values({
          id,
          person_id: personId,
          token_hash: sha256Hex(token),
          label,
          created_at: Date.now(),
          revoked_at: null,
        })
        .execute();
      await appendAudit(trx, {
        actor,
        action: 'token.issue',
        entityType: 'person',
        entityId: personId,
        data: { tokenId: id, label },
      });
    });
    return { id, token };
  }

  /** Revoke a person's active tokens with this label and issue a new one (service accounts such as Node-RED). */
  async rotateToken(personId: string, label: string, actor: string): Promise<string> {
    const old = await this.db
      .selectFrom('api_tokens')
      .select('id')
      .where('person_id', '=', personId)
      .where('label', '=', label)
      .where('revoked_at', 'is', null)
      .execute();
    for (const t of old) await this.revokeToken(personId, t.id, actor);
    return (await this.issueToken(personId, label, actor)).token;
  }

  async revokeToken(personId: string, tokenId: string, actor: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('api_tokens')
        .set({ revoked_at: Date.now() })
        .where('id', '=', tokenId)
        .where('person_id', '=', personId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (res.numUpdatedRows === 0n)
        throw new GridhubError('GH_ERR_NOT_FOUND', `no active token '${tokenId}'`);
      await appendAudit(trx, {
        actor,
        action: 'token.revoke',
        entityType: 'person',
        entityId: personId,
        data: { tokenId },
      });
    });
    this.changed({ personId, reason: 'token-revoked', credential: { kind: 'token', id: tokenId } });
  }

  /**
   * On a store with no admin, create one. The token comes from configuration or is generated and
   * returned so the entry point can print it once; only its hash is kept.
   */
  async bootstrapAdmin(configuredToken: string): Promise<string | undefined> {
    const admins = await this.db.selectFrom('people').select(['id', 'roles']).execute();
    if (admins.some((p) => (JSON.parse(p.roles) as Role[]).includes('admin'))) return undefined;
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('people')
        .values({
          id: BOOTSTRAP_ADMIN_ID,
          name: 'Administrator',
          phone: null,
          roles: JSON.stringify(['admin']),
          scope_grid_node_id: null,
          scope_site_ids: '[]',
          password_hash: null,
          active: 1,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.column('id').doUpdateSet({ roles: JSON.stringify(['admin']), updated_at: now }),
        )
        .execute();
      await appendAudit(trx, {
        actor: 'system',
        action: 'person.bootstrap-admin',
        entityType: 'person',
        entityId: BOOTSTRAP_ADMIN_ID,
      });
    });
    const { token } = await this.issueToken(
      BOOTSTRAP_ADMIN_ID,
      'bootstrap',
      'system',
      configuredToken || undefined,
    );
    return configuredToken ? undefined : token;
  }
}

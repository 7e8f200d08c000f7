import { Ajv, type ValidateFunction } from 'ajv';
import { appendAudit } from '../audit/audit-log.ts';
import { actorOf, covers, type Principal, requirePermission } from '../auth/principal.ts';
import { GridhubError } from '../errors.ts';
import { placeDevice, placeGridNode, placeSite } from '../grid/placement.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/store.ts';
import {
  POLICY_DEFINITIONS,
  type PolicyDefinition,
  type PolicyKey,
  type PolicyValue,
  type ScopeKind,
} from './definitions.ts';
import { checkAlertChain, checkPagingFloor } from './policy-guards.ts';

/** Where something is, for resolving a policy: the more is known, the more specific the value. */
export interface PolicyContext {
  deviceId?: string | null;
  siteId?: string | null;
  gridPath?: string | null;
  deviceType?: string | null;
}

/** The policy context of anything placed (a device event, a ticket, an alert): its own ids and grid path. */
export function policyContext(p: {
  gridPath: string;
  siteId?: string | null;
  deviceId?: string | null;
  deviceType?: string | null;
}): PolicyContext {
  return {
    deviceId: p.deviceId ?? null,
    siteId: p.siteId ?? null,
    gridPath: p.gridPath,
    deviceType: p.deviceType ?? null,
  };
}

export interface ResolvedPolicy {
  key: string;
  value: unknown;
  source: { kind: ScopeKind | 'default'; id: string | null };
}

interface Override {
  value: unknown;
  expiresAt: number | null;
}

/**
 * Policies with their overrides held in memory (loaded at start, updated on every change), so a
 * rule resolves a knob without a query and a change takes effect for the next event.
 */
export class PolicyService {
  private readonly overrides = new Map<string, Override>();
  /** cluster mode: called after each change of an override, so the other nodes reload (issue 19) */
  onChange: (() => void) | undefined;
  private readonly validators = new Map<string, ValidateFunction>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const ajv = new Ajv({ strict: false });
    for (const d of POLICY_DEFINITIONS.values()) this.validators.set(d.key, ajv.compile(d.schema));
  }

  private static id(key: string, kind: ScopeKind, scopeId: string): string {
    return `${key}\u0000${kind}\u0000${scopeId}`;
  }

  definition(key: string): PolicyDefinition {
    const d = POLICY_DEFINITIONS.get(key);
    if (!d) throw new GridhubError('GH_ERR_NOT_FOUND', `no policy '${key}'`);
    return d;
  }

  /** The value for a context, and which scope it came from. */
  resolve(key: string, ctx: PolicyContext = {}): ResolvedPolicy {
    const d = this.definition(key);
    const candidates: [ScopeKind, string | null | undefined][] = [
      ['device', ctx.deviceId],
      ['site', ctx.siteId],
      // nearest grid node first: /d/s/c/g/mg/ → mg, g, c, s, d
      ...(ctx.gridPath ?? '')
        .split('/')
        .filter(Boolean)
        .reverse()
        .map((id): [ScopeKind, string] => ['grid', id]),
      ['device-type', ctx.deviceType],
      ['global', '*'],
    ];
    for (const [kind, id] of candidates) {
      if (!id) continue;
      const o = this.overrides.get(PolicyService.id(key, kind, id));
      if (o) return { key, value: o.value, source: { kind, id } };
    }
    return { key, value: d.default, source: { kind: 'default', id: null } };
  }

  /** The value for a context, typed by the key's definition. */
  value<K extends PolicyKey>(key: K, ctx: PolicyContext = {}): PolicyValue<K> {
    return this.resolve(key, ctx).value as PolicyValue<K>;
  }

  list(): {
    definition: PolicyDefinition;
    overrides: { scope: { kind: ScopeKind; id: string }; value: unknown; expiresAt: string | null }[];
  }[] {
    return [...POLICY_DEFINITIONS.values()].map((definition) => ({
      definition,
      overrides: [...this.overrides.entries()]
        .filter(([k]) => k.startsWith(`${definition.key}\u0000`))
        .map(([k, o]) => {
          const [, kind, id] = k.split('\u0000') as [string, ScopeKind, string];
          return {
            scope: { kind, id },
            value: o.value,
            expiresAt: o.expiresAt ? new Date(o.expiresAt).toISOString() : null,
          };
        }),
    }));
  }

  /** Who may change a scope: admins anywhere; street duty within their jurisdiction, never global ones. */
  private async authorise(principal: Principal, kind: ScopeKind, scopeId: string): Promise<void> {
    requirePermission(principal, 'policy:write');
    if (principal.jurisdiction.kind === 'all') return;
    if (kind === 'global' || kind === 'device-type') {
      throw new GridhubError('GH_ERR_FORBIDDEN_SCOPE', `only an admin may change ${kind} policies`);
    }
    const db = this.store.db;
    const place = kind === 'grid' ? placeGridNode : kind === 'site' ? placeSite : placeDevice;
    const path = (await place(db, scopeId)).gridPath;
    if (!covers(principal.jurisdiction, { gridPath: path, siteId: kind === 'site' ? scopeId : null })) {
      throw new GridhubError('GH_ERR_FORBIDDEN_SCOPE', `${kind} '${scopeId}' is outside your jurisdiction`);
    }
  }

  /**
   * Set an override. With `forSeconds`, the hub restores the previous value by itself when the
   * window ends, so a forgotten flow cannot leave a threshold raised.
   */
  async set(
    principal: Principal,
    key: string,
    kind: ScopeKind,
    scopeId: string,
    value: unknown,
    forSeconds?: number,
  ): Promise<ResolvedPolicy> {
    this.definition(key);
    const id = kind === 'global' ? '*' : scopeId;
    await this.authorise(principal, kind, id);
    const validate = this.validators.get(key) as ValidateFunction;
    if (!validate(value)) {
      throw new GridhubError(
        'GH_ERR_VALIDATION',
        `value for ${key}: ${validate.errors?.map((e) => `${e.instancePath || '(value)'} ${e.message}`).join('; ')}`,
      );
    }
    // Who is paged must exist, be reachable and be the caller's to name (policy-guards.ts).
    if (key === 'alert.chain' && Array.isArray(value))
      await checkAlertChain(this.store.db, principal, kind, id, value as string[]);
    checkPagingFloor(principal, key, value);
    const mapKey = PolicyService.id(key, kind, id);
    const before = this.overrides.get(mapKey);
    const expiresAt = forSeconds ? this.now() + forSeconds * 1000 : null;
    // A window over a window keeps the value from before the first one.
    const previous = forSeconds
      ? before?.expiresAt
        ? await this.storedPrevious(key, kind, id)
        : before
          ? JSON.stringify(before.value)
          : null
      : null;
    const now = Date.now();
    await this.store.db.transaction().execute(async (trx) => {
      const row = {
        value: JSON.stringify(value),
        updated_at: now,
        updated_by: actorOf(principal),
        expires_at: expiresAt,
        previous,
      };
      await trx
        .insertInto('policies')
        .values({ key, scope_kind: kind, scope_id: id, ...row })
        .onConflict((oc) => oc.columns(['key', 'scope_kind', 'scope_id']).doUpdateSet(row))
        .execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'policy.set',
        entityType: 'policy',
        entityId: key,
        data: { scope: { kind, id }, from: before?.value ?? null, to: value, forSeconds: forSeconds ?? null },
      });
    });
    this.overrides.set(mapKey, { value, expiresAt });
    this.onChange?.();
    this.logger.info({ key, scope: { kind, id }, value, forSeconds }, 'policy changed');
    return { key, value, source: { kind, id } };
  }

  private async storedPrevious(key: string, kind: ScopeKind, id: string): Promise<string | null> {
    const row = await this.store.db
      .selectFrom('policies')
      .select('previous')
      .where('key', '=', key)
      .where('scope_kind', '=', kind)
      .where('scope_id', '=', id)
      .executeTakeFirst();
    return row?.previous ?? null;
  }

  async remove(principal: Principal, key: string, kind: ScopeKind, scopeId: string): Promise<void> {
    this.definition(key);
    const id = kind === 'global' ? '*' : scopeId;
    await this.authorise(principal, kind, id);
    await this.drop(key, kind, id, actorOf(principal), 'policy.remove');
  }

  private async drop(
    key: string,
    kind: ScopeKind,
    id: string,
    actor: string,
    action: string,
    restore?: string | null,
    /** only if the window still ended by then: nodes sharing the store restore it once */
    dueBy?: number,
  ): Promise<void> {
    const mapKey = PolicyService.id(key, kind, id);
    const before = this.overrides.get(mapKey);
    await this.store.db.transaction().execute(async (trx) => {
      if (dueBy !== undefined) {
        const still = await trx
          .selectFrom('policies')
          .select('key')
          .where('key', '=', key)
          .where('scope_kind', '=', kind)
          .where('scope_id', '=', id)
          .where('expires_at', '<=', dueBy)
          .executeTakeFirst();
        if (!still) return; // another node restored it (the same value, audited once)
      }
      if (restore) {
        await trx
          .updateTable('policies')
          .set({
            value: restore,
            expires_at: null,
            previous: null,
            updated_at: Date.now(),
            updated_by: actor,
          })
          .where('key', '=', key)
          .where('scope_kind', '=', kind)
          .where('scope_id', '=', id)
          .execute();
      } else {
        await trx
          .deleteFrom('policies')
          .where('key', '=', key)
          .where('scope_kind', '=', kind)
          .where('scope_id', '=', id)
          .execute();
      }
      await appendAudit(trx, {
        actor,
        action,
        entityType: 'policy',
        entityId: key,
        data: { scope: { kind, id }, from: before?.value ?? null, to: restore ? JSON.parse(restore) : null },
      });
    });
    if (restore) this.overrides.set(mapKey, { value: JSON.parse(restore), expiresAt: null });
    else this.overrides.delete(mapKey);
    this.onChange?.();
  }

  /** Restore every temporary override whose window has ended (also those that ended while down). */
  async expire(): Promise<void> {
    const now = this.now();
    const due = await this.store.db
      .selectFrom('policies')
      .selectAll()
      .where('expires_at', '<=', now)
      .execute();
    for (const row of due) {
      await this.drop(
        row.key,
        row.scope_kind as ScopeKind,
        row.scope_id,
        'system',
        'policy.restore',
        row.previous,
        now,
      );
      this.logger.info(
        { key: row.key, scope: { kind: row.scope_kind, id: row.scope_id } },
        'temporary policy window ended; value restored',
      );
    }
  }

  /** Read every stored override again (cluster mode: another node changed one, issue 19). */
  async reload(): Promise<void> {
    const rows = await this.store.db.selectFrom('policies').selectAll().execute();
    this.overrides.clear();
    this.load(rows);
  }

  private load(
    rows: { key: string; scope_kind: string; scope_id: string; value: string; expires_at: number | null }[],
  ): void {
    for (const r of rows) {
      if (!POLICY_DEFINITIONS.has(r.key)) {
        this.logger.warn({ key: r.key }, 'stored override of an unknown policy ignored');
        continue;
      }
      this.overrides.set(PolicyService.id(r.key, r.scope_kind as ScopeKind, r.scope_id), {
        value: JSON.parse(r.value),
        expiresAt: r.expires_at,
      });
    }
  }

  async start(): Promise<void> {
    this.load(await this.store.db.selectFrom('policies').selectAll().execute());
    await this.expire();
    this.timer = setInterval(() => {
      this.expire().catch((err: unknown) => this.logger.error({ err }, 'policy expiry failed'));
    }, 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.overrides.clear();
  }
}

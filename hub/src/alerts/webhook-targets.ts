import { randomBytes } from 'node:crypto';
import { appendAudit } from '../audit/audit-log.ts';
import { actorOf, covers, type Principal, requirePermission } from '../auth/principal.ts';
import type { DeliveryScope } from '../bus.ts';
import { atLeast, type Severity } from '../contract/severity.ts';
import { GridhubError } from '../errors.ts';
import { placeTargetScope } from '../grid/placement.ts';
import type { OutboundPolicy } from '../outbound/address-policy.ts';
import type { Store } from '../store/store.ts';
import type { WebhookTargetRow } from '../store/tables.ts';
import type { WebhookTargetBody } from './alert-schemas.ts';

/**
 * Webhook and chat-robot targets per emergency unit or grid node (webhook_targets): registered
 * within the caller's jurisdiction, checked against the outbound address policy, and found for an
 * alert by its delivery scope and severity.
 */
export class WebhookTargets {
  constructor(
    private readonly store: Store,
    private readonly outbound: OutboundPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  private get db() {
    return this.store.db;
  }

  /** The targets of an alert: its unit's, and those of every grid node above it, at its severity. */
  async forAlert(scope: DeliveryScope, severity: Severity): Promise<WebhookTargetRow[]> {
    const grids = scope.gridPath.split('/').filter(Boolean);
    const all = await this.db.selectFrom('webhook_targets').selectAll().execute();
    return all.filter(
      (t) =>
        atLeast(severity, t.min_severity as Severity) &&
        ((t.scope_kind === 'unit' && t.scope_id === scope.emergencyUnitId) ||
          (t.scope_kind === 'grid' && grids.includes(t.scope_id))),
    );
  }

  async addTarget(principal: Principal, body: WebhookTargetBody): Promise<WebhookTargetRow> {
    requirePermission(principal, 'webhook:write');
    const { gridPath: path } = await placeTargetScope(this.db, body.scope.kind, body.scope.id);
    if (!covers(principal.jurisdiction, { gridPath: path }))
      throw new GridhubError(
        'GH_ERR_FORBIDDEN_SCOPE',
        `${body.scope.kind} '${body.scope.id}' is outside your jurisdiction`,
      );
    await this.outbound.checkUrl(body.url);
    const row: WebhookTargetRow = {
      id: `wh-${randomBytes(5).toString('hex')}`,
      name: body.name,
      kind: body.kind,
      url: body.url,
      secret: body.secret ?? null,
      scope_kind: body.scope.kind,
      scope_id: body.scope.id,
      min_severity: body.minSeverity,
      created_by: actorOf(principal),
      created_at: this.now(),
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('webhook_targets').values(row).execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'webhook.create',
        entityType: 'webhook',
        entityId: row.id,
        data: { name: row.name, kind: row.kind, scope: body.scope },
      });
    });
    return row;
  }

  /** Targets whose unit or grid lies in the caller's jurisdiction (a target that cannot be placed: admins only). */
  async targets(principal: Principal): Promise<WebhookTargetRow[]> {
    requirePermission(principal, 'webhook:write');
    const rows = await this.db.selectFrom('webhook_targets').selectAll().orderBy('created_at').execute();
    const out: WebhookTargetRow[] = [];
    for (const t of rows) if (await this.targetInScope(principal, t)) out.push(t);
    return out;
  }

  private async targetInScope(principal: Principal, t: WebhookTargetRow): Promise<boolean> {
    if (principal.jurisdiction.kind === 'all') return true;
    const place = await placeTargetScope(this.db, t.scope_kind, t.scope_id).catch(() => undefined);
    return place !== undefined && covers(principal.jurisdiction, { gridPath: place.gridPath });
  }

  async removeTarget(principal: Principal, id: string): Promise<void> {
    requirePermission(principal, 'webhook:write');
    const target = await this.db
      .selectFrom('webhook_targets')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!target) throw new GridhubError('GH_ERR_NOT_FOUND', `no webhook '${id}'`);
    if (!(await this.targetInScope(principal, target)))
      throw new GridhubError('GH_ERR_FORBIDDEN_SCOPE', `webhook '${id}' is outside your jurisdiction`);
    await this.db.transaction().execute(async (trx) => {
      const res = await trx.deleteFrom('webhook_targets').where('id', '=', id).executeTakeFirst();
      if (res.numDeletedRows === 0n) throw new GridhubError('GH_ERR_NOT_FOUND', `no webhook '${id}'`);
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'webhook.delete',
        entityType: 'webhook',
        entityId: id,
      });
    });
  }
}

import { randomBytes } from 'node:crypto';
import Type from 'typebox';
import { appendAudit } from '../audit/audit-log.ts';
import { actorOf, covers, type Principal, requirePermission } from '../auth/principal.ts';
import type { Bus } from '../bus.ts';
import { topicFor } from '../contract/topics.ts';
import { GridhubError } from '../errors.ts';
import { placeTargetScope } from '../grid/placement.ts';
import type { Metrics } from '../metrics.ts';
import type { Db, Store } from '../store/store.ts';
import type { DeliveryResult, WebhookDeliverer } from './webhook-deliverer.ts';

export const NotifyBody = Type.Object(
  {
    to: Type.Union([
      Type.Object(
        {
          kind: Type.Literal('webhook'),
          target: Type.String({ minLength: 1, description: 'webhook target id or name' }),
        },
        { additionalProperties: false },
      ),
      Type.Object(
        { kind: Type.Literal('person'), id: Type.String({ minLength: 1 }) },
        { additionalProperties: false },
      ),
    ]),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    text: Type.String({ minLength: 1, maxLength: 4000 }),
    markdown: Type.Optional(Type.String({ maxLength: 4000 })),
    data: Type.Optional(Type.Unknown({ description: 'passed on to generic receivers and MQTT as is' })),
  },
  { additionalProperties: false },
);
export type NotifyBody = Type.Static<typeof NotifyBody>;

export const NotificationView = Type.Object({
  id: Type.String(),
  actor: Type.String(),
  to: Type.Object({ kind: Type.String(), id: Type.String() }),
  title: Type.String(),
  createdAt: Type.String(),
  deliveries: Type.Array(
    Type.Object({
      recipient: Type.String(),
      channel: Type.String(),
      attempt: Type.Integer(),
      at: Type.String(),
      result: Type.String(),
      detail: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});
export type NotificationView = Type.Static<typeof NotificationView>;

/**
 * Messages that flows and staff send through the hub's channels: a webhook or chat-robot target
 * (generic, WeCom, DingTalk, Feishu) or a person's MQTT topic. Delivery, retries and the
 * per-attempt log are the alerts' own (WebhookDeliverer), so a flow never talks to a robot directly.
 */
export class NotifyService {
  constructor(
    private readonly store: Store,
    private readonly deliverer: WebhookDeliverer,
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    private readonly now: () => number = Date.now,
  ) {
    // Attempts are logged by origin, so a retry another node makes after this one died is logged too.
    deliverer.logTo('notification', async (origin, target, attempt, result, detail) => {
      if (origin.kind === 'notification')
        await this.log(origin.id, target.id, `webhook:${target.kind}`, attempt, result, detail);
    });
  }

  private get db(): Db {
    return this.store.db;
  }

  private async log(
    id: string,
    recipient: string,
    channel: string,
    attempt: number,
    result: DeliveryResult,
    detail: string,
  ) {
    await this.db
      .insertInto('notification_deliveries')
      .values({ notification_id: id, recipient, channel, attempt, at: this.now(), result, detail })
      .execute();
    this.metrics.alertDeliveries.inc({ channel, result });
  }

  async send(principal: Principal, body: NotifyBody): Promise<NotificationView> {
    requirePermission(principal, 'notify:send');
    const id = `n-${randomBytes(6).toString('hex')}`;
    const createdAt = this.now();
    let deliver: () => void;
    let toId: string;
    if (body.to.kind === 'webhook') {
      const name = body.to.target;
      const candidates = await this.db
        .selectFrom('webhook_targets')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', name), eb('name', '=', name)]))
        .orderBy('created_at')
        .execute();
      if (candidates.length === 0) throw new GridhubError('GH_ERR_NOT_FOUND', `no webhook target '${name}'`);
      // Names are per jurisdiction: another street's target of the same name is not this one.
      let target: (typeof candidates)[number] | undefined;
      for (const c of candidates) {
        const place = await placeTargetScope(this.db, c.scope_kind, c.scope_id).catch(() => undefined);
        if (place && covers(principal.jurisdiction, { gridPath: place.gridPath })) {
          target = c;
          break;
        }
      }
      if (!target)
        throw new GridhubError(
          'GH_ERR_FORBIDDEN_SCOPE',
          `webhook target '${name}' is outside your jurisdiction`,
        );
      toId = target.id;
      const message = {
        title: body.title,
        text: body.text,
        markdown:
          body.markdown ??
          `### ${body.title}\n${body.text
            .split('\n')
            .map((l) => `> ${l}`)
            .join('\n')}`,
        data: { type: 'gridhub.notify', id, title: body.title, text: body.text, data: body.data ?? null },
      };
      deliver = () => this.deliverer.send(target, message, { kind: 'notification', id });
    } else {
      const person = await this.db
        .selectFrom('people')
        .leftJoin('grid_nodes', 'grid_nodes.id', 'people.scope_grid_node_id')
        .select(['people.id', 'grid_nodes.path'])
        .where('people.id', '=', body.to.id)
        .executeTakeFirst();
      if (!person) throw new GridhubError('GH_ERR_PERSON_UNKNOWN', `no person '${body.to.id}'`);
      if (
        principal.jurisdiction.kind !== 'all' &&
        !(person.path && covers(principal.jurisdiction, { gridPath: person.path }))
      )
        throw new GridhubError(
          'GH_ERR_FORBIDDEN_SCOPE',
          `person '${body.to.id}' is outside your jurisdiction`,
        );
      toId = person.id;
      const topic = topicFor('personMessage', { personId: person.id });
      deliver = () => {
        this.bus.emit('person.delivery', {
          topic: 'personMessage',
          personId: person.id,
          payload: { id, title: body.title, text: body.text, data: body.data ?? null },
        });
        // Handed to the broker; nothing here knows whether the person's app received it.
        this.log(id, person.id, 'mqtt', 1, 'queued', topic).catch(() => undefined);
      };
    }
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notifications')
        .values({
          id,
          actor: actorOf(principal),
          to_kind: body.to.kind,
          to_id: toId,
          title: body.title,
          text: body.text,
          created_at: createdAt,
        })
        .execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'notify.send',
        entityType: 'notification',
        entityId: id,
        data: { to: { kind: body.to.kind, id: toId }, title: body.title },
      });
    });
    deliver();
    return {
      id,
      actor: actorOf(principal),
      to: { kind: body.to.kind, id: toId },
      title: body.title,
      createdAt: new Date(createdAt).toISOString(),
      deliveries: [],
    };
  }

  /** One notification with every delivery attempt (its sender or an admin). */
  async detail(principal: Principal, id: string): Promise<NotificationView> {
    requirePermission(principal, 'notify:send');
    const n = await this.db.selectFrom('notifications').selectAll().where('id', '=', id).executeTakeFirst();
    if (!n || (n.actor !== actorOf(principal) && principal.jurisdiction.kind !== 'all'))
      throw new GridhubError('GH_ERR_NOT_FOUND', `no notification '${id}'`);
    const rows = await this.db
      .selectFrom('notification_deliveries')
      .selectAll()
      .where('notification_id', '=', id)
      .orderBy('id')
      .execute();
    return {
      id: n.id,
      actor: n.actor,
      to: { kind: n.to_kind, id: n.to_id },
      title: n.title,
      createdAt: new Date(n.created_at).toISOString(),
      deliveries: rows.map((r) => ({
        recipient: r.recipient,
        channel: r.channel,
        attempt: r.attempt,
        at: new Date(r.at).toISOString(),
        result: r.result,
        detail: r.detail,
      })),
    };
  }
}

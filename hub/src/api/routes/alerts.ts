import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import {
  AlertListQuery,
  AlertView,
  DeliveryView,
  WebhookTargetBody,
  WebhookTargetView,
} from '../../alerts/alert-schemas.ts';
import type { AlertService } from '../../alerts/alert-service.ts';
import { maskUrl } from '../../alerts/mask-url.ts';
import { endsSession } from '../../auth/access-events.ts';
import { requirePermission } from '../../auth/principal.ts';
import type { AlertChanged, Bus } from '../../bus.ts';
import type { AlertStream } from '../../output/alert-stream.ts';
import type { WebhookTargetRow } from '../../store/tables.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['alerts'];
const Reason = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
);

function targetView(t: WebhookTargetRow) {
  return {
    id: t.id,
    name: t.name,
    kind: t.kind as 'generic',
    url: maskUrl(t.url),
    hasSecret: t.secret != null,
    scope: { kind: t.scope_kind, id: t.scope_id },
    minSeverity: t.min_severity as 'major',
  };
}

export const alertRoutes: FastifyPluginAsyncTypebox<{
  alerts: AlertService;
  stream: AlertStream;
  bus: Bus;
}> = async (app, { alerts, stream, bus }) => {
  const { queries, actions, webhooks } = alerts;
  // The stream carries names like the lists do; every open console shares one lookup per change.
  const named = new WeakMap<AlertChanged, Promise<AlertView>>();
  const namedAlert = (c: AlertChanged) => {
    let p = named.get(c);
    if (!p) {
      // A failed name lookup (a store in trouble) must not drop the change: it goes without names.
      p = queries.named([c.alert]).then(
        (list) => list[0] ?? c.alert,
        () => c.alert,
      );
      named.set(c, p);
    }
    return p;
  };
  app.get(
    '/alerts',
    {
      schema: {
        tags,
        summary: 'Alerts you may see (staff: your jurisdiction; unit leaders: your units), newest first',
        querystring: AlertListQuery,
        response: {
          200: Type.Object({ total: Type.Integer(), items: Type.Array(AlertView) }),
          ...errorResponses,
        },
      },
    },
    async (req) => queries.list(req.principal, req.query),
  );

  // Server-sent events for the console: role- and scope-filtered; a reconnect with Last-Event-ID
  // replays what it missed (the last 1,000 changes are kept).
  app.get(
    '/alerts/stream',
    { schema: { tags, summary: 'Live alert changes (text/event-stream)' } },
    async (req, reply) => {
      requirePermission(req.principal, 'alert:read');
      const see = await queries.visibility(req.principal);
      // Each change carries where it is (its delivery scope): nothing is looked up per stream.
      const visible = ({ scope }: AlertChanged) =>
        see({ grid_path: scope.gridPath, site_id: scope.siteId, emergency_unit_id: scope.emergencyUnitId });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      const send = async (c: AlertChanged) => {
        if (!visible(c)) return;
        const alert = await namedAlert(c);
        res.write(`id: ${c.seq}\nevent: alert\ndata: ${JSON.stringify({ action: c.action, alert })}\n\n`);
      };
      const last = Number(req.headers['last-event-id'] ?? Number.NaN);
      if (Number.isFinite(last)) for (const c of stream.since(last)) await send(c);
      let queue = Promise.resolve();
      const off = stream.subscribe((c) => {
        queue = queue.then(() => send(c)).catch(() => undefined);
      });
      const ping = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      // The stream lives only as long as what it was opened with: a revoked token, a signed-out or
      // expired session, changed roles or jurisdiction end it at once (the console reconnects and
      // is asked to sign in, or gets what it is granted now).
      const principal = req.principal;
      const credential = req.credential;
      const end = () => res.end();
      const offAccess = bus.on('access.changed', (change) => {
        if (!credential || endsSession(change, principal.personId, credential)) end();
      });
      const expiry =
        req.credentialExpiresAt === null
          ? undefined
          : setTimeout(end, Math.max(0, Math.min(req.credentialExpiresAt - Date.now(), 2 ** 31 - 1)));
      const cleanup = () => {
        clearInterval(ping);
        clearTimeout(expiry);
        offAccess();
        off();
      };
      req.raw.on('close', cleanup);
      res.on('close', cleanup);
    },
  );

  app.get(
    '/alerts/:id',
    {
      schema: {
        tags,
        summary: 'One alert with its delivery log (every attempt per recipient and channel)',
        params: IdParams,
        response: {
          200: Type.Object({ alert: AlertView, deliveries: Type.Array(DeliveryView) }),
          ...errorResponses,
        },
      },
    },
    async (req) => queries.detail(req.principal, req.params.id),
  );
  app.post(
    '/alerts/:id/ack',
    {
      schema: {
        tags,
        summary: 'Acknowledge: stops re-notification and escalation for everyone',
        params: IdParams,
        response: { 200: AlertView, ...errorResponses },
      },
    },
    async (req) => actions.acknowledgeAs(req.principal, req.params.id, 'api'),
  );
  app.post(
    '/alerts/:id/resolve',
    {
      schema: {
        tags,
        summary: 'Resolve (the situation is handled)',
        params: IdParams,
        body: Type.Optional(Reason),
        response: { 200: AlertView, ...errorResponses },
      },
    },
    async (req) => actions.resolveAs(req.principal, req.params.id, false, req.body?.reason ?? null),
  );
  app.post(
    '/alerts/:id/false-alarm',
    {
      schema: {
        tags,
        summary: 'Mark as a false alarm (reason required)',
        params: IdParams,
        body: Reason,
        response: { 200: AlertView, ...errorResponses },
      },
    },
    async (req) => actions.resolveAs(req.principal, req.params.id, true, req.body.reason ?? null),
  );
  app.get(
    '/stats/alerts',
    {
      schema: {
        tags: ['stats'],
        summary: 'Mean time to acknowledge and share acknowledged within the deadline, per unit and severity',
        response: {
          200: Type.Array(
            Type.Object({
              unitId: Type.Union([Type.String(), Type.Null()]),
              severity: Type.String(),
              alerts: Type.Integer(),
              acknowledged: Type.Integer(),
              meanSecondsToAck: Type.Union([Type.Number(), Type.Null()]),
              ackedWithinDeadline: Type.Union([Type.Number(), Type.Null()]),
            }),
          ),
          ...errorResponses,
        },
      },
    },
    async (req) => alerts.statistics.stats(req.principal),
  );

  app.get(
    '/webhooks',
    {
      schema: {
        tags,
        summary: 'Webhook and chat-robot targets (admin, street duty)',
        response: { 200: Type.Array(WebhookTargetView), ...errorResponses },
      },
    },
    async (req) => (await webhooks.targets(req.principal)).map(targetView),
  );
  app.post(
    '/webhooks',
    {
      schema: {
        tags,
        summary:
          'Add a target: generic (HMAC-signed JSON), WeCom, DingTalk or Feishu group robot, for a unit or a grid',
        body: WebhookTargetBody,
        response: { 201: WebhookTargetView, ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(targetView(await webhooks.addTarget(req.principal, req.body))),
  );
  app.delete(
    '/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'Remove a target',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await webhooks.removeTarget(req.principal, req.params.id);
      return reply.code(204).send(null);
    },
  );
};

const page = (title: string, body: string) =>
  `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title>` +
  '<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}button{font-size:1.2rem;padding:.8rem 2rem}</style>' +
  `</head><body>${body}</body></html>`;
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The acknowledgement link in chat messages: GET shows what will be acknowledged, only the POST from
 * that page acknowledges (chat apps prefetch links). No login: the signed link is the credential.
 */
export const ackLinkRoutes: FastifyPluginAsyncTypebox<{ alerts: AlertService }> = async (app, { alerts }) => {
  const Q = Type.Object({ alert: Type.String(), who: Type.String(), exp: Type.String(), sig: Type.String() });
  // The page carries a credential (the signed link, also in its form): never cached by a proxy, never
  // framed, nothing loaded from elsewhere, no Referer to anywhere.
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-content-type-options', 'nosniff');
    reply.header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    return payload;
  });
  app.get('/alerts/ack', { schema: { hide: true, querystring: Q } }, async (req, reply) => {
    const ok = alerts.links.verify(req.query);
    reply.type('text/html; charset=utf-8');
    if (!ok)
      return reply
        .code(403)
        .send(page('链接无效', '<h1>链接无效或已过期</h1><p>Link invalid or expired.</p>'));
    const title = await alerts.queries.titleOf(ok.alertId);
    const form = `<form method="post"><input type="hidden" name="q" value="${esc(new URLSearchParams(req.query).toString())}"><button>确认收到 / Acknowledge</button></form>`;
    return page('确认告警', `<h1>${esc(title)}</h1>${form}`);
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  app.post(
    '/alerts/ack',
    { schema: { hide: true, body: Type.Object({ q: Type.String() }) } },
    async (req, reply) => {
      const ok = alerts.links.verify(Object.fromEntries(new URLSearchParams(req.body.q)));
      reply.type('text/html; charset=utf-8');
      if (!ok) return reply.code(403).send(page('链接无效', '<h1>链接无效或已过期</h1>'));
      try {
        await alerts.actions.acknowledge(
          ok.who.startsWith('webhook:') ? `link:${ok.who}` : `person:${ok.who}`,
          ok.alertId,
          'link',
        );
        return page('已确认', '<h1>已确认，谢谢</h1><p>Acknowledged.</p>');
      } catch (err) {
        return reply
          .code(409)
          .send(page('已处理', `<h1>该告警已被处理</h1><p>${esc((err as Error).message)}</p>`));
      }
    },
  );
};

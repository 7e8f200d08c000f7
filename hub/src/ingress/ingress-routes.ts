import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { ErrorResponse } from '../api/schemas.ts';
import { secretMatches } from '../auth/credentials.ts';
import { ERROR_CODES, type ErrorCode, GridhubError } from '../errors.ts';
import { parseCtwingPush } from './ctwing.ts';
import type { IngressGate, PlatformMessage } from './ingress-gate.ts';
import type { ActiveIntegration, IntegrationService } from './integration-service.ts';
import { parseOnenetPush, verifyOnenetUrl } from './onenet.ts';
import { PushRefused } from './platform-common.ts';

const tags = ['ingress'];
const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const PushAnswer = Type.Object({
  ok: Type.Boolean(),
  accepted: Type.Integer({ description: 'messages durably accepted (new)' }),
  duplicates: Type.Integer({ description: 'messages the hub already had (platform retries)' }),
  refused: Type.Array(
    Type.Object({
      code: Type.Enum(Object.keys(ERROR_CODES) as ErrorCode[]),
      reason: Type.String(),
      identity: Type.Optional(Type.String()),
    }),
    {
      description:
        'messages refused one by one (unknown device, model not carried, undecodable frame); answered 200 so the platform does not retry what a retry cannot fix',
    },
  ),
});
type PushAnswer = Type.Static<typeof PushAnswer>;
const errors = {
  400: ErrorResponse,
  401: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  413: ErrorResponse,
};
const PLATFORM_AUTH =
  'Authenticated by the platform, not by a bearer token: OneNET by msg_signature (MD5 of the integration token), CTWing by the token in the URL and the optional source allow-list.';

/** Recent push bodies per integration: a platform retry is answered from here without reprocessing. */
class RecentPushes {
  private readonly seen = new Map<string, Promise<PushAnswer>>();
  get(key: string): Promise<PushAnswer> | undefined {
    return this.seen.get(key);
  }
  set(key: string, answer: Promise<PushAnswer>): void {
    this.seen.set(key, answer);
    if (this.seen.size > 20_000) this.seen.delete(this.seen.keys().next().value as string);
    answer.catch(() => this.seen.delete(key));
  }
}

/**
 * The push URLs a carrier platform calls (`/api/v1/ingress/<integrationId>/<kind>`). They answer
 * 200 only once every message of the push is durably accepted (ingest's group commit), so the
 * platform's retry is the recovery for anything the hub could not store; a push that is unsigned,
 * malformed, oversized or older than the dedupe window is refused as a whole with a stable code.
 */
export const ingressRoutes: FastifyPluginAsyncTypebox<{
  integrations: IntegrationService;
  gate: IngressGate;
  maxPushBytes: number;
  replayWindowMs: number;
}> = async (app, { integrations, gate, maxPushBytes, replayWindowMs }) => {
  // Bodies stay text: OneNET's signature covers msg exactly as sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: maxPushBytes }, (_req, body, done) =>
    done(null, body),
  );
  const recent = new RecentPushes();

  const integrationFor = async (
    req: FastifyRequest,
    id: string,
    kind: 'onenet' | 'ctwing',
  ): Promise<ActiveIntegration> => {
    const i = await integrations.lookup(id);
    if (!i || i.kind !== kind || !i.enabled)
      throw new GridhubError('GH_ERR_INTEGRATION_UNKNOWN', `no ${kind} integration '${id}'`);
    const ip = req.ip.replace(/^::ffff:/, '');
    if (i.allowList && !i.allowList.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4'))
      throw new GridhubError(
        'GH_ERR_INGRESS_UNAUTHENTICATED',
        `source ${req.ip} is not in the integration’s allowIps`,
      );
    return i;
  };

  const refusedPush = (err: unknown): never => {
    if (err instanceof PushRefused) throw new GridhubError(err.code, err.message);
    throw err;
  };

  /** Hand every message to the gate; the answer settles when all of them are durable. */
  const accept = async (i: ActiveIntegration, body: string, parse: () => PlatformMessage[]) => {
    const key = `${i.id}:${createHash('sha256').update(body).digest('base64')}`;
    const earlier = recent.get(key);
    if (earlier) {
      const a = await earlier;
      return { ...a, accepted: 0, duplicates: a.accepted + a.duplicates };
    }
    let messages: PlatformMessage[];
    try {
      messages = parse();
    } catch (err) {
      gate.malformed(i, (err as Error).message);
      return refusedPush(err);
    }
    const now = Date.now();
    const old = messages.find((m) => m.at < now - replayWindowMs);
    if (old)
      throw new GridhubError(
        'GH_ERR_INGRESS_REPLAYED',
        `a message from ${new Date(old.at).toISOString()} is older than the dedupe window; refused as a replay`,
      );
    const answer: PushAnswer = { ok: true, accepted: 0, duplicates: 0, refused: [] };
    const durable: Promise<void>[] = [];
    for (const m of messages) {
      const out = await gate.handle(i, m, now);
      if (!out.ok) {
        answer.refused.push({
          code: out.code,
          reason: out.reason,
          ...(out.identity ? { identity: out.identity } : {}),
        });
        continue;
      }
      if (out.duplicate) answer.duplicates++;
      else answer.accepted++;
      durable.push(out.durable);
    }
    answer.ok = answer.refused.length === 0;
    const settled = Promise.all(durable).then(() => answer);
    recent.set(key, settled);
    try {
      return await settled;
    } catch {
      // Not on disk: no 200, so the platform sends it again (the same promise as a PUBACK).
      throw new GridhubError('GH_ERR_STORAGE_FULL', 'the push could not be stored; send it again');
    }
  };

  app.get(
    '/:id/onenet',
    {
      schema: {
        tags,
        summary:
          'OneNET push URL verification: answers msg when signature = Base64(MD5(token + nonce + msg))',
        description: PLATFORM_AUTH,
        security: [],
        params: Params,
        querystring: Type.Object({
          msg: Type.Optional(Type.String({ maxLength: 512 })),
          nonce: Type.Optional(Type.String({ maxLength: 64 })),
          signature: Type.Optional(Type.String({ maxLength: 128 })),
        }),
        response: { 200: Type.String(), ...errors },
      },
    },
    async (req, reply) => {
      const i = await integrationFor(req, req.params.id, 'onenet');
      let msg: string;
      try {
        msg = verifyOnenetUrl(i.token ?? '', req.query);
      } catch (err) {
        return refusedPush(err);
      }
      return reply.type('text/plain; charset=utf-8').send(msg);
    },
  );

  app.post(
    '/:id/onenet',
    {
      schema: {
        tags,
        summary: 'OneNET HTTP push (plain mode): data points, online/offline, command results',
        description: PLATFORM_AUTH,
        security: [],
        params: Params,
        body: Type.String({ description: '{"msg": …, "msg_signature": …, "nonce": …}' }),
        response: { 200: PushAnswer, ...errors, 507: ErrorResponse },
      },
    },
    async (req) => {
      const i = await integrationFor(req, req.params.id, 'onenet');
      const body = req.body;
      return accept(i, body, () => parseOnenetPush(i.token ?? '', body, Date.now()));
    },
  );

  app.post(
    '/:id/ctwing',
    {
      schema: {
        tags,
        summary:
          'CTWing subscription push: dataReport, deviceOnlineOfflineReport, commandResponse, device add/remove',
        description: PLATFORM_AUTH,
        security: [],
        params: Params,
        querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.String({ description: 'one CTWing message object' }),
        response: { 200: PushAnswer, ...errors, 507: ErrorResponse },
      },
    },
    async (req) => {
      const i = await integrationFor(req, req.params.id, 'ctwing');
      const token = req.query.token;
      if (!token || !i.tokenHash || !secretMatches(token, i.tokenHash))
        throw new GridhubError('GH_ERR_INGRESS_UNAUTHENTICATED', 'missing or wrong push token');
      const body = req.body;
      return accept(i, body, () => [parseCtwingPush(body, Date.now())]);
    },
  );
};

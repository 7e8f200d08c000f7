import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AccessService } from '../auth/access.ts';
import type { Credential } from '../auth/access-events.ts';
import type { Principal } from '../auth/principal.ts';
import type { SessionService } from '../auth/sessions.ts';
import { GridhubError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principalOrNull: Principal | null;
    /** the authenticated caller; throws 401 when there is none */
    readonly principal: Principal;
    /** what the caller authenticated with (long-lived streams end when it is revoked) */
    credential: Credential | null;
    /** when a console session ends by itself (epoch ms); null for bearer tokens */
    credentialExpiresAt: number | null;
  }
}

export const SESSION_COOKIE = 'gh_session';
/** Routes under /api that need no caller: signing in. */
const PUBLIC = new Set(['/api/v1/auth/login']);
/**
 * Routes that answer without a caller too, and see the caller when there is one: the console asks
 * for its session on every page load, and a signed-out visitor is an answer (204), not an error.
 */
const CALLER_OPTIONAL = new Set(['/api/v1/auth/session']);
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Push URLs of carrier platforms: authenticated by the platform's signature or token (ingress routes). */
const PLATFORM_PREFIX = '/api/v1/ingress/';

/**
 * Authentication for every /api route: a bearer token (devices' tools, Node-RED, scripts) or the
 * console's session cookie. A cookie-authenticated change must carry the session's CSRF token in
 * X-CSRF-Token (the cookie is also SameSite=Strict). Routes that must be public (health, docs,
 * metrics) live outside /api. Authorisation (role and jurisdiction) happens in the services, so no
 * route can forget it by being added without a check.
 */
export const authPlugin = fp<{ access: AccessService; sessions: SessionService }>(
  async (app, { access, sessions }) => {
    await app.register(cookie);
    app.decorateRequest('principalOrNull', null);
    app.decorateRequest('credential', null);
    app.decorateRequest('credentialExpiresAt', null);
    app.decorateRequest('principal', {
      getter(this: FastifyRequest) {
        if (!this.principalOrNull) throw new GridhubError('GH_ERR_UNAUTHENTICATED');
        return this.principalOrNull;
      },
    });
    app.addHook('onRequest', async (req: FastifyRequest, _reply: FastifyReply) => {
      if (!req.url.startsWith('/api/')) return;
      if (PUBLIC.has(req.url.split('?')[0] as string)) return;
      if (req.url.startsWith(PLATFORM_PREFIX)) return;
      const header = req.headers.authorization;
      const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
      if (token) {
        const found = await access.authenticateToken(token);
        if (!found) throw new GridhubError('GH_ERR_UNAUTHENTICATED', 'invalid or revoked token');
        req.principalOrNull = found.principal;
        req.credential = found.credential;
        return;
      }
      const sid = req.cookies[SESSION_COOKIE];
      const optional = CALLER_OPTIONAL.has(req.url.split('?')[0] as string);
      if (!sid) {
        if (optional) return;
        throw new GridhubError('GH_ERR_UNAUTHENTICATED', 'missing bearer token or session');
      }
      const session = await sessions.authenticate(sid);
      if (!session) {
        if (optional) return;
        throw new GridhubError('GH_ERR_UNAUTHENTICATED', 'session expired or signed out');
      }
      if (!SAFE.has(req.method) && req.headers['x-csrf-token'] !== session.csrf)
        throw new GridhubError('GH_ERR_CSRF');
      req.principalOrNull = session.principal;
      req.credential = session.credential;
      req.credentialExpiresAt = session.expiresAt;
    });
  },
);

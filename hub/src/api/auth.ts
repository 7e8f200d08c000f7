import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AccessService } from '../auth/access.ts';
import type { Principal } from '../auth/principal.ts';
import { GridhubError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principalOrNull: Principal | null;
    /** the authenticated caller; throws 401 when there is none */
    readonly principal: Principal;
  }
}

/**
 * Bearer-token authentication for every /api route. Routes that must be public (health, docs,
 * metrics) live outside /api. Authorisation (role and jurisdiction) happens in the services, so no
 * route can forget it by being added without a check.
 */
export const authPlugin = fp<{ access: AccessService }>(async (app, { access }) => {
  app.decorateRequest('principalOrNull', null);
  app.decorateRequest('principal', {
    getter(this: FastifyRequest) {
      if (!this.principalOrNull) throw new GridhubError('GH_ERR_UNAUTHENTICATED');
      return this.principalOrNull;
    },
  });
  app.addHook('onRequest', async (req: FastifyRequest, _reply: FastifyReply) => {
    if (!req.url.startsWith('/api/')) return;
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!token) throw new GridhubError('GH_ERR_UNAUTHENTICATED', 'missing bearer token');
    const principal = await access.authenticateToken(token);
    if (!principal) throw new GridhubError('GH_ERR_UNAUTHENTICATED', 'invalid or revoked token');
    req.principalOrNull = principal;
  });
});

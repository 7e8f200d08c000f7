import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Principal } from '../../auth/principal.ts';
import { permissionsOf } from '../../auth/roles.ts';
import type { SessionService } from '../../auth/sessions.ts';
import { SESSION_COOKIE } from '../auth.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['session'];
const Me = Type.Object({
  personId: Type.String(),
  name: Type.String(),
  roles: Type.Array(Type.String()),
  jurisdiction: Type.Unknown(),
  permissions: Type.Array(Type.String(), {
    description: 'what the roles allow; the hub still checks each call',
  }),
});
const me = (p: Principal) => ({ ...p, permissions: permissionsOf(p.roles) });
const SessionView = Type.Object({ me: Me, csrf: Type.String(), expiresAt: Type.String() });

export const sessionRoutes: FastifyPluginAsyncTypebox<{ sessions: SessionService }> = async (
  app,
  { sessions },
) => {
  app.post(
    '/auth/login',
    {
      schema: {
        tags,
        summary: 'Sign in with user name (person id) and password; sets the session cookie',
        description:
          'Returns the CSRF token the console sends in X-CSRF-Token on every change. Repeated failures lock the user name for this address for 15 minutes (GH_ERR_LOGIN_LOCKED).',
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 100 }),
            password: Type.String({ minLength: 1, maxLength: 200 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: SessionView, ...errorResponses },
      },
    },
    async (req, reply) => {
      const s = await sessions.login(req.body.username, req.body.password, req.ip);
      reply.setCookie(SESSION_COOKIE, s.cookie, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: req.protocol === 'https',
        expires: new Date(s.expiresAt),
      });
      return { me: me(s.principal), csrf: s.csrf, expiresAt: new Date(s.expiresAt).toISOString() };
    },
  );
  app.get(
    '/auth/session',
    {
      schema: {
        tags,
        summary: 'The current session (after a page reload): who, and the CSRF token',
        description:
          '204 when signed out (no session cookie, or one that expired or was ended): the console asks on every page load, and a visitor who has not signed in yet is no error. A bad bearer token is still 401.',
        // optional authentication: a visitor gets 204 and nothing else
        security: [{}, { bearer: [] }],
        response: { 200: SessionView, 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      if (!req.principalOrNull) {
        // A stale cookie (session ended elsewhere) goes, so the next load does not present it again.
        if (req.cookies[SESSION_COOKIE]) reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return reply.code(204).send(null);
      }
      const sid = req.cookies[SESSION_COOKIE];
      const s = sid ? await sessions.authenticate(sid) : undefined;
      if (!s) return { me: me(req.principal), csrf: '', expiresAt: new Date(0).toISOString() };
      return { me: me(s.principal), csrf: s.csrf, expiresAt: new Date(s.expiresAt).toISOString() };
    },
  );
  app.post(
    '/auth/logout',
    { schema: { tags, summary: 'Sign out: the session ends on the server', response: { 204: Type.Null() } } },
    async (req, reply) => {
      const sid = req.cookies[SESSION_COOKIE];
      if (sid) await sessions.logout(sid);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );
  app.put(
    '/people/:id/password',
    {
      schema: {
        tags: ['people'],
        summary: 'Set a password (admin for anyone; a person for themselves with the current one)',
        description: 'Ends every session of that person.',
        params: IdParams,
        body: Type.Object(
          {
            password: Type.String({ minLength: 10, maxLength: 200 }),
            currentPassword: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await sessions.setPassword(req.principal, req.params.id, req.body.password, req.body.currentPassword);
      return reply.code(204).send(null);
    },
  );
};

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AccessService } from '../../auth/access.ts';
import { actorOf, requirePermission } from '../../auth/principal.ts';
import { errorResponses, IdParams } from '../schemas.ts';

export const tokenRoutes: FastifyPluginAsyncTypebox<{ access: AccessService }> = async (app, { access }) => {
  app.post(
    '/people/:id/tokens',
    {
      schema: {
        tags: ['people'],
        summary: 'Issue an API token for a person (admin); the token is shown only this once',
        params: IdParams,
        body: Type.Object(
          { label: Type.String({ minLength: 1, maxLength: 100 }) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ id: Type.String(), token: Type.String() }), ...errorResponses },
      },
    },
    async (req, reply) => {
      requirePermission(req.principal, 'people:write');
      return reply
        .code(201)
        .send(await access.issueToken(req.params.id, req.body.label, actorOf(req.principal)));
    },
  );
  app.delete(
    '/people/:id/tokens/:tokenId',
    {
      schema: {
        tags: ['people'],
        summary: 'Revoke an API token (admin)',
        params: Type.Object({ id: Type.String(), tokenId: Type.String() }),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      requirePermission(req.principal, 'people:write');
      await access.revokeToken(req.params.id, req.params.tokenId, actorOf(req.principal));
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/me',
    {
      schema: {
        tags: ['people'],
        summary: 'Who the token belongs to: roles and jurisdiction',
        response: {
          200: Type.Object({
            personId: Type.String(),
            name: Type.String(),
            roles: Type.Array(Type.String()),
            jurisdiction: Type.Unknown(),
          }),
          ...errorResponses,
        },
      },
    },
    async (req) => req.principal,
  );
};

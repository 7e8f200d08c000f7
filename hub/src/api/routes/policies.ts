import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { covers, requirePermission, requireScope } from '../../auth/principal.ts';
import { placeDevice, placeGridNode, placeSite } from '../../grid/placement.ts';
import { SCOPE_KINDS } from '../../policies/definitions.ts';
import type { PolicyService } from '../../policies/policy-service.ts';
import type { Db } from '../../store/store.ts';
import { errorResponses } from '../schemas.ts';

const tags = ['policies'];
const Scope = Type.Object({
  kind: Type.Enum(SCOPE_KINDS),
  id: Type.String({ description: '"*" for global' }),
});
const Resolved = Type.Object({
  key: Type.String(),
  value: Type.Unknown(),
  source: Type.Object({
    kind: Type.Enum([...SCOPE_KINDS, 'default']),
    id: Type.Union([Type.String(), Type.Null()]),
  }),
});

export const policyRoutes: FastifyPluginAsyncTypebox<{ policies: PolicyService; db: Db }> = async (
  app,
  { policies, db },
) => {
  app.get(
    '/policies',
    {
      schema: {
        tags,
        summary: 'Every policy with its default, description, schema and stored overrides',
        response: {
          200: Type.Array(
            Type.Object({
              key: Type.String(),
              description: Type.String(),
              default: Type.Unknown(),
              schema: Type.Unknown(),
              overrides: Type.Array(
                Type.Object({
                  scope: Scope,
                  value: Type.Unknown(),
                  expiresAt: Type.Union([Type.String(), Type.Null()]),
                }),
              ),
            }),
          ),
          ...errorResponses,
        },
      },
    },
    async (req) => {
      requirePermission(req.principal, 'policy:read');
      const j = req.principal.jurisdiction;
      // Overrides at places outside the caller's jurisdiction are not shown; those at an ancestor
      // grid apply to the caller's places and are.
      const visible = async (scope: { kind: string; id: string }): Promise<boolean> => {
        if (j.kind === 'all' || scope.kind === 'global' || scope.kind === 'device-type') return true;
        const place = await (scope.kind === 'grid'
          ? placeGridNode(db, scope.id)
          : scope.kind === 'site'
            ? placeSite(db, scope.id)
            : placeDevice(db, scope.id)
        ).catch(() => undefined);
        if (!place?.gridPath) return false;
        if (covers(j, { gridPath: place.gridPath, siteId: place.siteId })) return true;
        return scope.kind === 'grid' && j.kind === 'grid' && j.path.startsWith(place.gridPath);
      };
      const out = [];
      for (const { definition, overrides } of policies.list()) {
        const shown = [];
        for (const o of overrides) if (await visible(o.scope)) shown.push(o);
        out.push({
          key: definition.key,
          description: definition.description,
          default: definition.default,
          schema: definition.schema,
          overrides: shown,
        });
      }
      return out;
    },
  );
  app.get(
    '/policies/:key/resolve',
    {
      schema: {
        tags,
        summary: 'The value that applies at a place, and which scope it comes from',
        params: Type.Object({ key: Type.String() }),
        querystring: Type.Object({
          device: Type.Optional(Type.String()),
          site: Type.Optional(Type.String()),
          grid: Type.Optional(Type.String({ description: 'a grid node id; its ancestors apply too' })),
          deviceType: Type.Optional(Type.String()),
        }),
        response: { 200: Resolved, ...errorResponses },
      },
    },
    async (req) => {
      requirePermission(req.principal, 'policy:read');
      const q = req.query;
      const place = q.device
        ? placeDevice(db, q.device)
        : q.site
          ? placeSite(db, q.site)
          : q.grid
            ? placeGridNode(db, q.grid)
            : undefined;
      const p = place ? await place : undefined;
      // A place outside the caller's jurisdiction is not theirs to ask about.
      if (p) requireScope(req.principal, { gridPath: p.gridPath, siteId: p.siteId }, 'that place');
      return policies.resolve(req.params.key, {
        deviceId: p?.deviceId ?? null,
        siteId: p?.siteId ?? null,
        gridPath: p?.gridPath ?? null,
        deviceType: p?.deviceType ?? q.deviceType ?? null,
      });
    },
  );
  app.put(
    '/policies/:key',
    {
      schema: {
        tags,
        summary:
          'Set a policy for a scope (admin; street duty within its jurisdiction); optionally only for a time window',
        description:
          'With forSeconds, the hub restores the previous value by itself when the window ends. Every change is audited and applies to the next event.',
        params: Type.Object({ key: Type.String() }),
        body: Type.Object(
          {
            scope: Scope,
            value: Type.Unknown(),
            forSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Resolved, ...errorResponses },
      },
    },
    async (req) =>
      policies.set(
        req.principal,
        req.params.key,
        req.body.scope.kind,
        req.body.scope.id,
        req.body.value,
        req.body.forSeconds,
      ),
  );
  app.delete(
    '/policies/:key',
    {
      schema: {
        tags,
        summary: 'Remove the override at a scope (the next broader scope applies again)',
        params: Type.Object({ key: Type.String() }),
        querystring: Scope,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await policies.remove(req.principal, req.params.key, req.query.kind, req.query.id);
      return reply.code(204).send(null);
    },
  );
};

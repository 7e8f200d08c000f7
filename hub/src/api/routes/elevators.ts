import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { MaintenanceVisits } from '../../elevators/maintenance-visits.ts';
import { errorResponses, IdParams } from '../schemas.ts';

/** Elevator maintenance visits (the health score's routes are in series.ts). */
export const elevatorRoutes: FastifyPluginAsyncTypebox<{ visits: MaintenanceVisits }> = async (
  app,
  { visits },
) => {
  app.post(
    '/elevators/:id/maintenance-visits',
    {
      schema: {
        tags: ['elevators'],
        summary: 'Record a maintenance visit (property manager or maintenance company)',
        params: IdParams,
        body: Type.Object(
          {
            at: Type.Optional(Type.String({ format: 'date-time' })),
            notes: Type.Optional(Type.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await visits.recordVisit(req.principal, req.params.id, req.body);
      return reply.code(204).send(null);
    },
  );
};

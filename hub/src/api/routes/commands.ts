import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { CommandListQuery, CommandRequest, CommandView } from '../../commands/command-schemas.ts';
import type { CommandService } from '../../commands/command-service.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['devices'];

/** Commands to one device and its command log (mounted under /devices). */
export const commandRoutes: FastifyPluginAsyncTypebox<{ commands: CommandService }> = async (
  app,
  { commands },
) => {
  app.post(
    '/:id/commands',
    {
      schema: {
        tags,
        summary: 'Send a command (silence, self-test, configure) to a device',
        description:
          'Installers, property managers and street duty within their jurisdiction, and admins. The body must fit the model’s `commandSchema` (GET /api/v1/device-models). The command is held for the device’s persistent session (cleanSession=false, client id = device id) until it connects, also across a hub restart, and expires after ttlSeconds.',
        params: IdParams,
        body: CommandRequest,
        response: { 201: CommandView, ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(await commands.create(req.principal, req.params.id, req.body)),
  );

  app.get(
    '/:id/commands',
    {
      schema: {
        tags,
        summary: 'The device’s command log, newest first',
        params: IdParams,
        querystring: CommandListQuery,
        response: { 200: Type.Array(CommandView), ...errorResponses },
      },
    },
    async (req) => commands.list(req.principal, req.params.id, req.query.limit),
  );

  app.get(
    '/:id/commands/:commandId',
    {
      schema: {
        tags,
        summary: 'One command and how far it got',
        params: Type.Object({ id: IdParams.properties.id, commandId: Type.String({ maxLength: 64 }) }),
        response: { 200: CommandView, ...errorResponses },
      },
    },
    async (req) => commands.get(req.principal, req.params.id, req.params.commandId),
  );
};

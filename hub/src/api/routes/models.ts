import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { requirePermission } from '../../auth/principal.ts';
import { modelCommandSchema } from '../../commands/command-schemas.ts';
import { COMMAND_TYPES, DeviceTypeSchema } from '../../contract/payloads.ts';
import type { ModelCatalogue } from '../../devices/models/index.ts';
import { offlineAfterSeconds } from '../../devices/models/index.ts';
import { errorResponses } from '../schemas.ts';

const ModelView = Type.Object({
  id: Type.String(),
  type: DeviceTypeSchema,
  vendor: Type.String(),
  name: Type.Object({ zh: Type.String(), en: Type.String() }),
  power: Type.Union([Type.Literal('mains'), Type.Literal('battery')]),
  heartbeatIntervalSeconds: Type.Integer(),
  offlineGraceSeconds: Type.Integer(),
  offlineAfterSeconds: Type.Integer(),
  defaultRules: Type.Array(Type.String()),
  eventSchema: Type.Unknown({ description: 'JSON Schema of the event topic payload' }),
  telemetrySchema: Type.Unknown({ description: 'JSON Schema of the telemetry topic payload' }),
  commands: Type.Array(Type.Enum(COMMAND_TYPES), { description: 'commands the model takes' }),
  commandSchema: Type.Unknown({
    description: 'JSON Schema of POST /api/v1/devices/:id/commands bodies for this model',
  }),
});

export const modelRoutes: FastifyPluginAsyncTypebox<{ models: ModelCatalogue }> = async (app, { models }) => {
  app.get(
    '/',
    {
      schema: {
        tags: ['devices'],
        summary: 'Supported device models, with payload schemas and presence timing',
        response: { 200: Type.Array(ModelView), ...errorResponses },
      },
    },
    async (req) => {
      requirePermission(req.principal, 'device:read');
      return models.models.map((m) => ({
        id: m.id,
        type: m.type,
        vendor: m.vendor,
        name: m.name,
        power: m.power,
        heartbeatIntervalSeconds: m.heartbeatIntervalSeconds,
        offlineGraceSeconds: m.offlineGraceSeconds,
        offlineAfterSeconds: offlineAfterSeconds(m),
        defaultRules: [...m.defaultRules],
        eventSchema: m.eventSchema,
        telemetrySchema: m.telemetrySchema,
        commands: [...m.commands],
        commandSchema: modelCommandSchema(m),
      }));
    },
  );
};

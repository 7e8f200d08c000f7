import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { requirePermission } from '../../auth/principal.ts';
import {
  CsvImportResult,
  DeviceList,
  DeviceListQuery,
  DeviceView,
  DeviceWithSecret,
  RegisterDeviceBody,
} from '../../devices/device-schemas.ts';
import type { DeviceRegistry } from '../../devices/registry.ts';
import { ERROR_CODES, type ErrorCode } from '../../errors.ts';
import { IdSchema } from '../../grid/community-schema.ts';
import type { CommissioningLog } from '../../ingest/commissioning.ts';
import type { LocalSeriesStore } from '../../timeseries/local-store.ts';
import { jsonWithArray } from '../json-array.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['devices'];
const DeviceItems = Type.Array(DeviceView);
/** Give the event loop a turn between the steps of a large answer. */
const slice = () => new Promise((resolve) => setImmediate(resolve));
const Reason = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);

const CommissioningRecord = Type.Object({
  at: Type.String(),
  topic: Type.String(),
  what: Type.String({ description: 'event type, or telemetry / status' }),
  code: Type.Optional(Type.Enum(Object.keys(ERROR_CODES) as ErrorCode[])),
  reason: Type.Optional(Type.String()),
  duplicate: Type.Optional(Type.Boolean()),
  excerpt: Type.String({ description: 'the first bytes the device sent' }),
});
const CommissioningView = Type.Object({
  device: DeviceView,
  accepted: Type.Array(CommissioningRecord, { description: 'newest first' }),
  rejected: Type.Array(CommissioningRecord, {
    description: 'newest first, each with its error code and reason',
  }),
});

export const deviceRoutes: FastifyPluginAsyncTypebox<{
  registry: DeviceRegistry;
  commissioning: CommissioningLog;
  /** latest readings for the list (battery) */
  series?: LocalSeriesStore;
  /** the CSV import's body limit (http.bodyLimitBytes); every other route keeps the app's small one */
  importBodyLimitBytes?: number;
}> = async (app, { registry, commissioning, series, importBodyLimitBytes }) => {
  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Register a device; the response carries its secret, shown only this once',
        body: RegisterDeviceBody,
        response: { 201: DeviceWithSecret, ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(await registry.register(req.principal, req.body)),
  );

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List devices in your jurisdiction',
        querystring: DeviceListQuery,
        response: { 200: DeviceList, ...errorResponses },
      },
    },
    async (req, reply) => {
      const list = await registry.list(req.principal, req.query);
      await slice();
      const battery = await series?.latest(
        list.items.map((d) => d.id),
        'battery',
      );
      // A page of 1,000 devices is 650 KB of JSON: written in batches with yields between.
      return jsonWithArray(
        reply,
        { ...list, items: list.items.map((d) => ({ ...d, battery: battery?.get(d.id) ?? null })) },
        'items',
        DeviceItems,
      );
    },
  );

  // CSV arrives as text/csv; keep it a string for the importer.
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.post(
    '/import',
    {
      ...(importBodyLimitBytes ? { bodyLimit: importBodyLimitBytes } : {}),
      // Only those who may register devices get to send a large body: checked before it is read.
      onRequest: async (req) => requirePermission(req.principal, 'device:register'),
      schema: {
        tags,
        summary:
          'Bulk-register devices from CSV (all-or-nothing); dryRun=true reports every bad row and writes nothing',
        description:
          'Columns: id, model, site, name, serial, gridNode, emergencyUnit, installNotes (model and site required). See hub/examples/devices.csv.',
        querystring: Type.Object({ dryRun: Type.Boolean({ default: false }) }),
        body: Type.String({ description: 'CSV text (Content-Type: text/csv)' }),
        response: { 200: CsvImportResult, ...errorResponses },
      },
    },
    async (req) => registry.importCsv(req.principal, req.body, req.query.dryRun),
  );

  app.get(
    '/:id',
    {
      schema: {
        tags,
        summary: 'One device',
        params: IdParams,
        response: { 200: DeviceView, ...errorResponses },
      },
    },
    async (req) => registry.get(req.principal, req.params.id),
  );

  app.get(
    '/:id/commissioning',
    {
      schema: {
        tags,
        summary:
          'Commissioning view: the last accepted and rejected messages, so an installer at the device sees the test press arrive or why it did not',
        params: IdParams,
        response: { 200: CommissioningView, ...errorResponses },
      },
    },
    async (req) => {
      const device = await registry.get(req.principal, req.params.id);
      return { device, ...(await commissioning.view(device.id)) };
    },
  );

  app.post(
    '/:id/move',
    {
      schema: {
        tags,
        summary: 'Move a device to another site (grid node and emergency unit follow the site)',
        params: IdParams,
        body: Type.Object({ site: IdSchema }, { additionalProperties: false }),
        response: { 200: DeviceView, ...errorResponses },
      },
    },
    async (req) => registry.move(req.principal, req.params.id, req.body.site),
  );

  app.post(
    '/:id/rotate-secret',
    {
      schema: {
        tags,
        summary: 'Issue a new secret; the old one stops working at once',
        params: IdParams,
        response: { 200: DeviceWithSecret, ...errorResponses },
      },
    },
    async (req) => registry.rotateSecret(req.principal, req.params.id),
  );

  const lifecycle = [
    ['maintenance', 'maintenance', 'Put a device into maintenance'],
    ['resume', 'active', 'Return a device from maintenance to service'],
    ['decommission', 'decommissioned', 'Decommission a device; its credentials stop working at once'],
  ] as const;
  for (const [path, status, summary] of lifecycle) {
    app.post(
      `/:id/${path}`,
      {
        schema: {
          tags,
          summary,
          params: IdParams,
          body: Type.Optional(Reason),
          response: { 200: DeviceView, ...errorResponses },
        },
      },
      async (req) => registry.setStatus(req.principal, req.params.id, status, req.body?.reason),
    );
  }
};

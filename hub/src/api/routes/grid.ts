import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type TSchema } from 'typebox';
import { parse as parseYaml } from 'yaml';
import type { AccessService } from '../../auth/access.ts';
import { actorOf, type Principal, requirePermission } from '../../auth/principal.ts';
import type { Bus } from '../../bus.ts';
import { GridhubError, isGridhubError } from '../../errors.ts';
import { type ImportEffects, importCommunity, oneAtATime } from '../../grid/community-import.ts';
import { readCommunityBody } from '../../grid/community-reader.ts';
import {
  type CommunityFile,
  DepartmentInput,
  EmergencyUnitInput,
  GridNodeInput,
  GridNodeView,
  ImportSummary,
  PersonInput,
  PersonView,
  SiteInput,
  SiteView,
} from '../../grid/community-schema.ts';
import type { CommunityFormat } from '../../grid/community-text.ts';
import type { GridDirectory } from '../../grid/grid-directory.ts';
import { gridSummary } from '../../grid/grid-summary.ts';
import type { Db } from '../../store/store.ts';
import { jsonArray } from '../json-array.ts';
import { MAX_NESTING, valueNestingExceeds, yamlNestingExceeds } from '../nesting.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['grid'];
const SummaryList = Type.Array(
  Type.Object({
    id: Type.String(),
    devices: Type.Integer(),
    offline: Type.Integer(),
    openTickets: Type.Array(Type.Integer(), { description: 'open tickets at level 1, 2, 3, 4' }),
  }),
);
const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'];

/** The body of a single-entry PUT: the community-file entry, with the id taken from the URL. */
function withoutId<T extends TSchema>(schema: T): TSchema {
  const s = schema as unknown as { properties: Record<string, unknown>; required?: string[] };
  const { id: _, ...properties } = s.properties;
  return { ...s, properties, required: (s.required ?? []).filter((r) => r !== 'id') } as unknown as TSchema;
}

export const gridRoutes: FastifyPluginAsyncTypebox<{
  db: Db;
  presence: { flush(): Promise<void> };
  directory: GridDirectory;
  access: AccessService;
  bus: Bus;
  /** the community import's body limit (http.bodyLimitBytes); other routes keep the app's small one */
  importBodyLimitBytes?: number;
}> = async (app, { db, presence, directory, access, bus, importBodyLimitBytes }) => {
  const serial = oneAtATime();
  const load = async (principal: Principal, doc: unknown) => {
    requirePermission(principal, 'grid:write');
    return serial(async () => {
      const effects: ImportEffects = { people: new Set(), devices: new Set() };
      try {
        return await importCommunity(db, doc, actorOf(principal), effects);
      } catch (err) {
        // A refused file wrote nothing; anything else stopped the writing part-way.
        if (!isGridhubError(err))
          app.log.warn(
            {
              err,
              module: 'grid',
              peopleAffected: effects.people.size,
              devicesAffected: effects.devices.size,
            },
            'community import stopped part-way: what was written stays; sending the same file again completes it',
          );
        throw err;
      } finally {
        // After what was written (all of it, or the chunks before a failure): sessions granted
        // under the old model end, moved devices reconnect.
        access.grantsChanged(effects.people);
        for (const deviceId of effects.devices) bus.emit('device.changed', { deviceId, change: 'moved' });
      }
    });
  };

  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    // before parsing: the YAML parser recurses per level of nesting
    if (yamlNestingExceeds(body as string))
      return done(
        new GridhubError('GH_ERR_NESTING_TOO_DEEP', `the document nests deeper than ${MAX_NESTING} levels`),
        undefined,
      );
    try {
      const doc: unknown = parseYaml(body as string);
      if (valueNestingExceeds(doc))
        return done(
          new GridhubError('GH_ERR_NESTING_TOO_DEEP', `the document nests deeper than ${MAX_NESTING} levels`),
          undefined,
        );
      done(null, doc);
    } catch (err) {
      done(
        new GridhubError('GH_ERR_COMMUNITY_INVALID', `YAML is not readable: ${(err as Error).message}`),
        undefined,
      );
    }
  });

  // The whole-file import takes its body as bytes: a city's file is read off the event loop
  // (community-reader.ts), and only once the caller was found allowed to write the grid.
  await app.register(async (scope) => {
    scope.removeContentTypeParser(['application/json', ...YAML_TYPES]);
    const raw =
      (format: CommunityFormat) =>
      (
        _req: unknown,
        body: string | Buffer,
        done: (err: null, body: { format: CommunityFormat; bytes: Buffer }) => void,
      ) =>
        done(null, { format, bytes: body as Buffer });
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, raw('json'));
    scope.addContentTypeParser(YAML_TYPES, { parseAs: 'buffer' }, raw('yaml'));
    scope.post(
      '/grid/import',
      {
        ...(importBodyLimitBytes ? { bodyLimit: importBodyLimitBytes } : {}),
        // Only those who may write the grid get to send a large body: checked before it is read.
        onRequest: async (req) => requirePermission(req.principal, 'grid:write'),
        schema: {
          tags,
          summary:
            'Load a community file (JSON or YAML): idempotent, checked as a whole, every problem listed',
          description:
            'See hub/examples/community.yaml. Entries are upserted by id; entries absent from the file are left alone. ' +
            'Any problem refuses the whole file and nothing is written. A large file is written in short steps; ' +
            'if writing stops part-way (507: the disk is full), send the same file again to complete it.',
          response: { 200: ImportSummary, ...errorResponses },
        },
      },
      async (req) => {
        requirePermission(req.principal, 'grid:write');
        const { format, bytes } = req.body as { format: CommunityFormat; bytes: Buffer };
        return load(req.principal, await readCommunityBody(bytes, format));
      },
    );
  });

  const entries = [
    {
      path: '/grid/nodes',
      key: 'gridNodes',
      schema: GridNodeInput,
      view: GridNodeView,
      list: (p: Principal, only?: string) => directory.nodes(p, only),
    },
    {
      path: '/sites',
      key: 'sites',
      schema: SiteInput,
      view: SiteView,
      list: (p: Principal, only?: string) => directory.sites(p, only),
    },
    {
      path: '/emergency-units',
      key: 'emergencyUnits',
      schema: EmergencyUnitInput,
      view: EmergencyUnitInput,
      list: (p: Principal, only?: string) => directory.emergencyUnits(p, only),
    },
    {
      path: '/departments',
      key: 'departments',
      schema: DepartmentInput,
      view: DepartmentInput,
      list: (p: Principal, only?: string) => directory.departments(p, only),
    },
    {
      path: '/people',
      key: 'people',
      schema: PersonInput,
      view: PersonView,
      list: (p: Principal, only?: string) => directory.people(p, only),
    },
  ] as const;

  for (const entry of entries) {
    const section = entry.path.replace(/^\//, '').split('/')[0] ?? 'grid';
    const list = Type.Array(entry.view as TSchema);
    app.get(
      entry.path,
      {
        schema: {
          tags: [section],
          summary: `List ${entry.key} in your jurisdiction`,
          response: { 200: list, ...errorResponses },
        },
      },
      async (req, reply) => jsonArray<unknown>(reply, await entry.list(req.principal), list),
    );
    app.get(
      `${entry.path}/:id`,
      {
        schema: {
          tags: [section],
          summary: `One of ${entry.key}`,
          params: IdParams,
          response: { 200: entry.view as TSchema, ...errorResponses },
        },
      },
      async (req): Promise<unknown> => {
        if (entry.key === 'gridNodes') return directory.node(req.principal, req.params.id);
        const [found] = await entry.list(req.principal, req.params.id);
        if (!found)
          throw new GridhubError(
            'GH_ERR_NOT_FOUND',
            `no ${entry.key} entry '${req.params.id}' in your jurisdiction`,
          );
        return found;
      },
    );
    app.put(
      `${entry.path}/:id`,
      {
        schema: {
          tags: [section],
          summary: `Create or update one of ${entry.key} (same rules as the community file)`,
          params: IdParams,
          body: withoutId(entry.schema),
          response: { 200: ImportSummary, ...errorResponses },
        },
      },
      async (req) => {
        const doc: CommunityFile = { [entry.key]: [{ ...(req.body as object), id: req.params.id }] };
        return load(req.principal, doc);
      },
    );
  }

  app.get(
    '/grid/summary',
    {
      schema: {
        tags,
        summary: 'Your grid subtree with device counts, offline devices and open tickets per level',
        description:
          'Counts include only devices and tickets in your jurisdiction (a property manager: their sites).',
        response: { 200: SummaryList, ...errorResponses },
      },
    },
    async (req, reply) => {
      // the offline counts are SQL over devices.online, which trails live presence by one flush
      await presence.flush();
      return jsonArray(
        reply,
        await gridSummary(db, req.principal.jurisdiction, await directory.nodes(req.principal)),
        SummaryList,
      );
    },
  );
};

import { createHash, timingSafeEqual } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import Type from 'typebox';
import type { AlertService } from '../alerts/alert-service.ts';
import type { NotifyService } from '../alerts/notify-service.ts';
import type { AccessService } from '../auth/access.ts';
import type { SessionService } from '../auth/sessions.ts';
import type { Bus } from '../bus.ts';
import type { CommandService } from '../commands/command-service.ts';
import type { ModelCatalogue } from '../devices/models/index.ts';
import type { DeviceRegistry } from '../devices/registry.ts';
import type { MaintenanceVisits } from '../elevators/maintenance-visits.ts';
import { type ErrorBody, GridhubError, isGridhubError } from '../errors.ts';
import type { GridDirectory } from '../grid/grid-directory.ts';
import { schemaProblems } from '../grid/schema-problems.ts';
import type { CommissioningLog } from '../ingest/commissioning.ts';
import type { IngressGate } from '../ingress/ingress-gate.ts';
import { ingressRoutes } from '../ingress/ingress-routes.ts';
import { integrationRoutes } from '../ingress/integration-routes.ts';
import type { IntegrationService } from '../ingress/integration-service.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { AlertStream } from '../output/alert-stream.ts';
import type { PolicyService } from '../policies/policy-service.ts';
import { type StorageHealth, storageErrorCode } from '../store/storage-health.ts';
import type { Db } from '../store/store.ts';
import type { TicketService } from '../tickets/ticket-service.ts';
import type { LocalSeriesStore } from '../timeseries/local-store.ts';
import { authPlugin } from './auth.ts';
import { consoleRoutes } from './console.ts';
import { jsonNestingExceeds, MAX_NESTING } from './nesting.ts';
import { ackLinkRoutes, alertRoutes } from './routes/alerts.ts';
import { auditRoutes } from './routes/audit.ts';
import { type ClusterView, clusterRoutes } from './routes/cluster.ts';
import { commandRoutes } from './routes/commands.ts';
import { deviceRoutes } from './routes/devices.ts';
import { elevatorRoutes } from './routes/elevators.ts';
import { gridRoutes } from './routes/grid.ts';
import { modelRoutes } from './routes/models.ts';
import { notifyRoutes } from './routes/notify.ts';
import { tokenRoutes } from './routes/people.ts';
import { policyRoutes } from './routes/policies.ts';
import { seriesRoutes } from './routes/series.ts';
import { sessionRoutes } from './routes/session.ts';
import { ticketRoutes } from './routes/tickets.ts';
import { ErrorResponse } from './schemas.ts';

export interface ReadinessCheck {
  name: string;
  /** shown in checks and problems, but the hub stays ready (status "degraded") when it fails */
  optional?: boolean;
  ready(): boolean;
  /** why it is not ready, with a stable code (e.g. GH_ERR_STORAGE_FULL) */
  problem?(): { code: string; message: string } | undefined;
}

export interface ApiDeps {
  logger: Logger;
  /** the scrape token that may read /metrics besides an admin (auth.metricsToken; empty = none) */
  metricsToken: string;
  db: Db;
  bus: Bus;
  /** presence writes what it holds before a read counts online devices in SQL */
  presence: { flush(): Promise<void> };
  access: AccessService;
  registry: DeviceRegistry;
  commissioning: CommissioningLog;
  models: ModelCatalogue;
  directory: GridDirectory;
  metrics: Metrics;
  tickets: TicketService;
  alerts: AlertService;
  alertStream: AlertStream;
  /** the live nodes (GET /api/v1/cluster, issue 19) */
  cluster: ClusterView;
  visits: MaintenanceVisits;
  notify: NotifyService;
  commands: CommandService;
  sessions: SessionService;
  series: LocalSeriesStore;
  policies: PolicyService;
  readiness: ReadinessCheck[];
  integrations: IntegrationService;
  ingressGate: IngressGate;
  ingress: { maxPushBytes: number; replayWindowMs: number };
  publicUrl: () => string;
  storage: StorageHealth;
  /** the import routes' limit (device CSV, community file) */
  bodyLimitBytes: number;
  /** every other route's limit (issue 14 follow-up: any caller could post megabytes anywhere) */
  jsonBodyLimitBytes: number;
  trustProxy: boolean;
  version: string;
}

/** A bearer token of an admin (the /ready detail); anything else, or nothing, is not. */
/** /metrics: the configured scrape token (constant-time compare) or an admin's API token. */
async function mayReadMetrics(deps: ApiDeps, header: string | undefined): Promise<boolean | 'staff'> {
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  if (!token) return false;
  if (deps.metricsToken) {
    const given = createHash('sha256').update(token).digest();
    const want = createHash('sha256').update(deps.metricsToken).digest();
    if (timingSafeEqual(given, want)) return true;
  }
  const found = await deps.access.authenticateToken(token).catch(() => undefined);
  if (!found) return false;
  // a valid token of someone who is not an admin: known, but not allowed (403)
  return found.principal.roles.includes('admin') ? true : 'staff';
}

async function isAdminCaller(access: AccessService, header: string | undefined): Promise<boolean> {
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  if (!token) return false;
  const found = await access.authenticateToken(token).catch(() => undefined);
  return found?.principal.roles.includes('admin') === true;
}

/** The REST API; tests build it and `inject()`, the server entry only listens. */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ module: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Every route takes small bodies; only the imports raise their own limit (route bodyLimit).
    bodyLimit: deps.jsonBodyLimitBytes,
    trustProxy: deps.trustProxy,
    // SSE streams and keep-alive sockets must not hold a graceful shutdown open.
    forceCloseConnections: true,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addSchema(ErrorResponse);

  // JSON bodies are checked for nesting before they are parsed (issue 14): deep nesting is refused
  // with a stable code instead of overflowing the stack in whatever recursive code meets it first.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (jsonNestingExceeds(body as string))
      return done(
        new GridhubError('GH_ERR_NESTING_TOO_DEEP', `the body nests deeper than ${MAX_NESTING} levels`),
        undefined,
      );
    parseJson(req, body as string, done);
  });

  app.setErrorHandler((err: FastifyError | GridhubError, req, reply) => {
    let body: ErrorBody;
    let status: number;
    if (isGridhubError(err)) {
      status = err.status;
      body = err.toBody();
    } else if (err.validation) {
      status = 400;
      const problems = schemaProblems(err.validation as never).map((p) => ({
        ...p,
        path: `${err.validationContext ?? 'body'}${p.path === '(root)' ? '' : `.${p.path}`}`,
      }));
      body = new GridhubError(
        'GH_ERR_VALIDATION',
        problems.map((p) => `${p.path}: ${p.message}`).join('; '),
        { problems },
      ).toBody();
    } else if (storageErrorCode(err)) {
      // The disk refused the write: 507 with the storage code, and the hub reports itself degraded.
      const code = deps.storage.failed('store', err) ?? 'GH_ERR_STORAGE_FULL';
      status = 507;
      body = new GridhubError(code).toBody();
    } else if (err.statusCode === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      status = 413;
      body = new GridhubError('GH_ERR_PAYLOAD_TOO_LARGE').toBody();
    } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      // an unknown route is not found; anything else the client sent wrong (415, 400 …) is invalid
      const code = status === 404 ? 'GH_ERR_NOT_FOUND' : 'GH_ERR_VALIDATION';
      body = new GridhubError(code, err.message).toBody();
    } else {
      status = 500;
      req.log.error({ err }, 'unhandled error');
      body = new GridhubError('GH_ERR_INTERNAL').toBody();
    }
    deps.metrics.errors.inc({ code: body.error.code, source: 'http' });
    // the path only: a push token travels in the query (CTWing cannot send headers)
    if (status < 500)
      req.log.info({ code: body.error.code, url: req.url.split('?')[0], status }, 'request refused');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send(new GridhubError('GH_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`).toBody()),
  );
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.httpRequests.inc({
      method: req.method,
      route: req.routeOptions.url ?? 'unknown',
      status: reply.statusCode,
    });
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'gridhub API',
        version: deps.version,
        description: 'Community IoT hub for grid-based governance.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _base, _frag, i) => (json.$id as string | undefined) ?? `def-${i}`,
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const Health = Type.Object({
    status: Type.String(),
    checks: Type.Optional(Type.Record(Type.String(), Type.Boolean())),
    problems: Type.Optional(
      Type.Array(
        Type.Object({
          check: Type.String(),
          code: Type.String(),
          message: Type.Optional(
            Type.String({ description: 'what is wrong, with names and addresses: shown to admins only' }),
          ),
        }),
      ),
    ),
  });
  app.get(
    '/health',
    { schema: { tags: ['ops'], summary: 'Alive', security: [], response: { 200: Health } } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/ready',
    {
      schema: {
        tags: ['ops'],
        summary: 'Ready: store open and broker listening',
        description:
          'Anyone may ask; each problem carries its check and stable code. Its message (integration names, broker hosts, file paths) is shown only to a caller with an admin bearer token.',
        security: [],
        response: { 200: Health, 503: Health },
      },
    },
    async (req, reply) => {
      // Unauthenticated by design (load balancers ask it), so it must not tell a LAN neighbour the
      // names of internal hosts: the detail is for admins (and the counters are in /metrics).
      const detail = await isAdminCaller(deps.access, req.headers.authorization);
      const checks = Object.fromEntries(deps.readiness.map((c) => [c.name, c.ready()]));
      const ok = deps.readiness.every((c) => c.optional || checks[c.name]);
      const degraded = Object.values(checks).some((v) => !v);
      const problems = deps.readiness.flatMap((c) => {
        const p = checks[c.name] ? undefined : c.problem?.();
        if (!p) return [];
        return [detail ? { check: c.name, ...p } : { check: c.name, code: p.code }];
      });
      return reply.code(ok ? 200 : 503).send({
        status: ok ? (degraded ? 'degraded' : 'ready') : 'not ready',
        checks,
        ...(problems.length ? { problems } : {}),
      });
    },
  );
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics',
        description:
          "Needs a bearer token: `auth.metricsToken` (for a Prometheus server) or an admin's API token. The counters name integrations and show alert and error traffic, so they are not for anonymous callers.",
        hide: false,
      },
    },
    async (req, reply) => {
      const may = await mayReadMetrics(deps, req.headers.authorization);
      if (may === 'staff')
        throw new GridhubError('GH_ERR_FORBIDDEN_ROLE', '/metrics is for admins and the scrape token');
      if (may !== true)
        throw new GridhubError(
          'GH_ERR_UNAUTHENTICATED',
          "/metrics needs auth.metricsToken or an admin's API token as a bearer token",
        );
      return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    },
  );

  await app.register(ackLinkRoutes, { alerts: deps.alerts });
  await app.register(consoleRoutes);
  await app.register(
    async (api) => {
      await api.register(authPlugin, { access: deps.access, sessions: deps.sessions });
      await api.register(sessionRoutes, { sessions: deps.sessions });
      await api.register(notifyRoutes, { notify: deps.notify });
      await api.register(deviceRoutes, {
        prefix: '/devices',
        registry: deps.registry,
        commissioning: deps.commissioning,
        series: deps.series,
        importBodyLimitBytes: deps.bodyLimitBytes,
      });
      await api.register(commandRoutes, { prefix: '/devices', commands: deps.commands });
      await api.register(modelRoutes, { prefix: '/device-models', models: deps.models });
      await api.register(gridRoutes, {
        db: deps.db,
        presence: deps.presence,
        directory: deps.directory,
        access: deps.access,
        bus: deps.bus,
        importBodyLimitBytes: deps.bodyLimitBytes,
      });
      await api.register(tokenRoutes, { access: deps.access });
      await api.register(auditRoutes, { db: deps.db });
      await api.register(ticketRoutes, { tickets: deps.tickets });
      await api.register(policyRoutes, { policies: deps.policies, db: deps.db });
      await api.register(alertRoutes, { alerts: deps.alerts, stream: deps.alertStream, bus: deps.bus });
      await api.register(elevatorRoutes, { visits: deps.visits });
      await api.register(seriesRoutes, { series: deps.series, registry: deps.registry });
      await api.register(integrationRoutes, {
        prefix: '/integrations',
        integrations: deps.integrations,
        publicUrl: deps.publicUrl,
      });
      await api.register(clusterRoutes, { cluster: deps.cluster });
      await api.register(ingressRoutes, {
        prefix: '/ingress',
        integrations: deps.integrations,
        gate: deps.ingressGate,
        ...deps.ingress,
      });
    },
    { prefix: '/api/v1' },
  );
  return app;
}

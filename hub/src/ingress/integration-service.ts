import { randomBytes } from 'node:crypto';
import { appendAudit } from '../audit/audit-log.ts';
import { newToken, sha256Hex } from '../auth/credentials.ts';
import { actorOf, type Principal, requirePermission } from '../auth/principal.ts';
import { roleAllows } from '../auth/roles.ts';
import type { DeviceView } from '../devices/device-schemas.ts';
import type { IdentityField } from '../devices/identities.ts';
import type { ModelCatalogue } from '../devices/models/index.ts';
import type { DeviceRegistry } from '../devices/registry.ts';
import { GridhubError } from '../errors.ts';
import type { OutboundPolicy } from '../outbound/address-policy.ts';
import { mqttUrlAsHttp } from '../outbound/guarded-mqtt.ts';
import type { Store } from '../store/store.ts';
import type { IntegrationRow } from '../store/tables.ts';
import { isoText } from '../time.ts';
import { type ActiveIntegration, activeIntegration, type IntegrationListener } from './active-integration.ts';
import type { IngressGate } from './ingress-gate.ts';
import { checkIps, commandsReady } from './integration-checks.ts';
import type {
  CommandApi,
  CreateIntegrationBody,
  IntegrationView,
  RegisterUnmatchedBody,
  UnmatchedView,
  UpdateIntegrationBody,
} from './integration-schemas.ts';
import type { IntegrationStore } from './integration-store.ts';
import type { SecretBox } from './secret-box.ts';

export type { ActiveIntegration, ChirpstackSettings, IntegrationListener } from './active-integration.ts';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Integrations as data (issue 20): an admin registers a CTWing, OneNET or ChirpStack integration,
 * its secrets and the models it carries. Secrets the hub must use (OneNET token, ChirpStack
 * password) are sealed with the SecretBox; the CTWing push token is only compared, so only its
 * SHA-256 is kept. No read returns a secret; create and rotate show it once.
 */
export class IntegrationService {
  private readonly active = new Map<string, ActiveIntegration>();
  listener: IntegrationListener | undefined;
  /** told the id of every integration this node changed (ingress.ts puts it on the bus for the cluster) */
  changed: ((id: string) => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly repo: IntegrationStore,
    private readonly box: SecretBox,
    private readonly models: ModelCatalogue,
    private readonly registry: DeviceRegistry,
    private readonly gate: IngressGate,
    private readonly outbound: OutboundPolicy,
  ) {}

  /**
   * A network server's broker is an outbound address like a webhook's: no loopback, private,
   * link-local or metadata address unless outbound.allow admits it (GH_ERR_OUTBOUND_FORBIDDEN),
   * checked when an admin names it — not only when the hub dials it.
   */
  private async checkBroker(url: string | undefined): Promise<void> {
    if (url !== undefined) await this.outbound.checkUrl(mqttUrlAsHttp(url));
  }

  find(id: string): ActiveIntegration | undefined {
    return this.active.get(id);
  }

  /**
   * find(), and on a miss one read of the store: an integration another node of a cluster just
   * created may be pushed to here before that node's announcement arrives (issue 19).
   */
  async lookup(id: string): Promise<ActiveIntegration | undefined> {
    return this.active.get(id) ?? (await this.reload(id));
  }

  /** Take an integration again as the store has it (another node changed it); secrets come from the store. */
  async reload(id: string): Promise<ActiveIntegration | undefined> {
    const row = await this.repo.get(id);
    if (row || this.active.has(id)) this.publish(id, row);
    return this.active.get(id);
  }

  list(): ActiveIntegration[] {
    return [...this.active.values()];
  }

  private view(row: IntegrationRow): IntegrationView {
    const a = this.active.get(row.id) ?? activeIntegration(row, this.box);
    return {
      id: row.id,
      kind: a.kind,
      name: row.name,
      models: [...a.models],
      enabled: a.enabled,
      allowIps: a.allowIps,
      chirpstack: a.chirpstack,
      pushPath: a.kind === 'chirpstack' ? null : `/api/v1/ingress/${row.id}/${a.kind}`,
      hasSecret: row.secrets_enc !== null || row.token_hash !== null,
      commandApi: a.commandApi,
      commandsReady: commandsReady(a),
      connection: a.kind === 'chirpstack' ? (this.listener?.connection(row.id) ?? null) : null,
      counts: this.gate.countsOf(row.id),
      createdAt: isoText(row.created_at),
      updatedAt: isoText(row.updated_at),
    };
  }

  /** The command API's address must be one outbound HTTP may reach (checked again on every call). */
  private async checkCommandApi(api: CommandApi | undefined): Promise<void> {
    if (api?.url) await this.outbound.checkUrl(api.url);
  }

  private checkModels(models: string[]): void {
    for (const m of models)
      if (!this.models.find(m)) throw new GridhubError('GH_ERR_MODEL_UNKNOWN', `unknown model '${m}'`);
  }

  private publish(id: string, row: IntegrationRow | undefined): void {
    if (row) this.active.set(id, activeIntegration(row, this.box));
    else this.active.delete(id);
    this.listener?.integrationChanged(id, this.active.get(id));
  }

  /** A change this node made: taken here at once, announced to the others. */
  private publishOwn(id: string, row: IntegrationRow | undefined): void {
    this.publish(id, row);
    this.changed?.(id);
  }

  private async row(id: string): Promise<IntegrationRow> {
    const row = await this.repo.get(id);
    if (!row) throw new GridhubError('GH_ERR_INTEGRATION_UNKNOWN', `no integration '${id}'`);
    return row;
  }

  async create(
    principal: Principal,
    body: CreateIntegrationBody,
    baseUrl: string,
  ): Promise<{ integration: IntegrationView; token: string | null; pushUrl: string | null }> {
    requirePermission(principal, 'integration:write');
    this.checkModels(body.models);
    checkIps(body.allowIps ?? []);
    await this.checkCommandApi(body.commandApi);
    const id = body.id ?? `${body.kind}-${randomBytes(4).toString('hex')}`;
    if (!ID.test(id)) throw new GridhubError('GH_ERR_VALIDATION', `invalid id '${id}'`);
    if (body.kind === 'chirpstack' && !body.chirpstack)
      throw new GridhubError(
        'GH_ERR_VALIDATION',
        'a ChirpStack integration needs chirpstack.url and applicationId',
      );
    if (body.kind === 'chirpstack') await this.checkBroker(body.chirpstack?.url);
    let token: string | null = null;
    const secrets: Record<string, string> = {};
    let tokenHash: string | null = null;
    if (body.kind === 'onenet') secrets.token = token = body.token ?? randomBytes(18).toString('base64url');
    if (body.kind === 'ctwing') {
      token = newToken('ghi');
      tokenHash = sha256Hex(token);
    }
    if (body.kind === 'chirpstack' && body.chirpstackPassword) secrets.password = body.chirpstackPassword;
    Object.assign(secrets, body.commandSecrets ?? {});
    const now = Date.now();
    const row: IntegrationRow = {
      id,
      kind: body.kind,
      name: body.name,
      models: JSON.stringify(body.models),
      settings: JSON.stringify({
        allowIps: body.allowIps ?? [],
        ...(body.kind === 'chirpstack' ? { chirpstack: body.chirpstack } : {}),
        ...(body.commandApi ? { commandApi: body.commandApi } : {}),
      }),
      secrets_enc: Object.keys(secrets).length > 0 ? this.box.seal(secrets, id) : null,
      token_hash: tokenHash,
      enabled: body.enabled === false ? 0 : 1,
      created_by: actorOf(principal),
      created_at: now,
      updated_at: now,
    };
    await this.store.db.transaction().execute(async (trx) => {
      if (await trx.selectFrom('integrations').select('id').where('id', '=', id).executeTakeFirst())
        throw new GridhubError('GH_ERR_CONFLICT', `integration '${id}' already exists`);
      await this.repo.insert(trx, row);
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'integration.create',
        entityType: 'integration',
        entityId: id,
        data: { kind: body.kind, name: body.name, models: body.models },
      });
    });
    this.publishOwn(id, row);
    return { integration: this.view(row), token, pushUrl: this.pushUrl(row, baseUrl, token) };
  }

  private pushUrl(row: IntegrationRow, baseUrl: string, token: string | null): string | null {
    if (row.kind === 'chirpstack') return null;
    const url = `${baseUrl}/api/v1/ingress/${row.id}/${row.kind}`;
    return row.kind === 'ctwing' && token ? `${url}?token=${token}` : url;
  }

  async update(principal: Principal, id: string, body: UpdateIntegrationBody): Promise<IntegrationView> {
    requirePermission(principal, 'integration:write');
    const row = await this.row(id);
    if (body.models) this.checkModels(body.models);
    if (body.allowIps) checkIps(body.allowIps);
    await this.checkCommandApi(body.commandApi);
    if (row.kind === 'chirpstack') await this.checkBroker(body.chirpstack?.url);
    const settings = JSON.parse(row.settings) as Record<string, unknown>;
    if (body.allowIps) settings.allowIps = body.allowIps;
    if (body.chirpstack && row.kind === 'chirpstack') settings.chirpstack = body.chirpstack;
    if (body.commandApi) settings.commandApi = body.commandApi;
    const set: Partial<IntegrationRow> = {
      ...(body.name ? { name: body.name } : {}),
      ...(body.models ? { models: JSON.stringify(body.models) } : {}),
      ...(body.enabled !== undefined ? { enabled: body.enabled ? 1 : 0 } : {}),
      settings: JSON.stringify(settings),
      updated_at: Date.now(),
    };
    if ((body.chirpstackPassword !== undefined && row.kind === 'chirpstack') || body.commandSecrets) {
      const secrets = row.secrets_enc ? this.box.open(row.secrets_enc, id) : {};
      if (body.chirpstackPassword !== undefined && row.kind === 'chirpstack')
        secrets.password = body.chirpstackPassword;
      Object.assign(secrets, body.commandSecrets ?? {});
      set.secrets_enc = this.box.seal(secrets, id);
    }
    await this.store.db.transaction().execute(async (trx) => {
      await this.repo.update(trx, id, set);
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'integration.update',
        entityType: 'integration',
        entityId: id,
        // which fields changed, never the password itself
        data: { changed: Object.keys(body) },
      });
    });
    const updated = await this.row(id);
    this.publishOwn(id, updated);
    return this.view(updated);
  }

  /** A new push token (the old one stops working at once), shown once. */
  async rotateToken(
    principal: Principal,
    id: string,
    baseUrl: string,
  ): Promise<{ integration: IntegrationView; token: string | null; pushUrl: string | null }> {
    requirePermission(principal, 'integration:write');
    const row = await this.row(id);
    if (row.kind === 'chirpstack')
      throw new GridhubError('GH_ERR_INVALID_TRANSITION', 'a ChirpStack integration has no push token');
    const token = row.kind === 'ctwing' ? newToken('ghi') : randomBytes(18).toString('base64url');
    const set: Partial<IntegrationRow> =
      row.kind === 'ctwing'
        ? { token_hash: sha256Hex(token) }
        : // the command API's secrets stay; only the push token changes
          {
            secrets_enc: this.box.seal(
              { ...(row.secrets_enc ? this.box.open(row.secrets_enc, id) : {}), token },
              id,
            ),
          };
    await this.store.db.transaction().execute(async (trx) => {
      await this.repo.update(trx, id, { ...set, updated_at: Date.now() });
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'integration.rotate-token',
        entityType: 'integration',
        entityId: id,
      });
    });
    const updated = await this.row(id);
    this.publishOwn(id, updated);
    return { integration: this.view(updated), token, pushUrl: this.pushUrl(updated, baseUrl, token) };
  }

  async remove(principal: Principal, id: string): Promise<void> {
    requirePermission(principal, 'integration:write');
    await this.row(id);
    await this.store.db.transaction().execute(async (trx) => {
      await this.repo.remove(trx, id);
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'integration.remove',
        entityType: 'integration',
        entityId: id,
      });
    });
    this.publishOwn(id, undefined);
  }

  /**
   * Installers read integrations to register the devices they carry; where the hub connects to
   * (a ChirpStack broker's host, user name and client id, the last connection error naming it) and
   * which source addresses a push may come from are the operator's network, shown to admins only.
   */
  private shownTo(principal: Principal, v: IntegrationView): IntegrationView {
    if (roleAllows(principal.roles, 'integration:write')) return v;
    return {
      ...v,
      allowIps: [],
      chirpstack: null,
      connection: v.connection ? { ...v.connection, lastError: null } : null,
    };
  }

  async get(principal: Principal, id: string): Promise<IntegrationView> {
    requirePermission(principal, 'integration:read');
    return this.shownTo(principal, this.view(await this.row(id)));
  }

  async all(principal: Principal): Promise<IntegrationView[]> {
    requirePermission(principal, 'integration:read');
    return (await this.repo.all()).map((r) => this.shownTo(principal, this.view(r)));
  }

  async unmatched(principal: Principal, id: string): Promise<UnmatchedView[]> {
    requirePermission(principal, 'integration:read');
    await this.row(id);
    await this.repo.dropRegistered();
    return (await this.repo.unmatched(id)).map((u) => ({
      identity: u.identity,
      identityKind: u.identity_kind as IdentityField,
      firstAt: isoText(u.first_at),
      lastAt: isoText(u.last_at),
      count: u.count,
      excerpt: u.excerpt,
    }));
  }

  /** Register the device an unmatched message named, with that identity (the registry's checks apply). */
  async registerUnmatched(
    principal: Principal,
    id: string,
    identity: string,
    body: RegisterUnmatchedBody,
  ): Promise<{ device: DeviceView; secret: string }> {
    requirePermission(principal, 'device:register');
    const integration = await this.row(id);
    const entry = await this.repo.oneUnmatched(id, identity);
    if (!entry) throw new GridhubError('GH_ERR_NOT_FOUND', `no unmatched device '${identity}' on '${id}'`);
    const models = JSON.parse(integration.models) as string[];
    if (!models.includes(body.model))
      throw new GridhubError(
        'GH_ERR_INGRESS_MODEL_NOT_CARRIED',
        `integration '${id}' carries ${models.join(', ')}, not '${body.model}'`,
      );
    const registered = await this.registry.register(principal, {
      ...body,
      [entry.identity_kind]: entry.identity,
    });
    await this.repo.dropUnmatched(id, identity);
    return registered;
  }

  async dismissUnmatched(principal: Principal, id: string, identity: string): Promise<void> {
    requirePermission(principal, 'integration:write');
    await this.row(id);
    if ((await this.repo.dropUnmatched(id, identity)) === 0)
      throw new GridhubError('GH_ERR_NOT_FOUND', `no unmatched device '${identity}' on '${id}'`);
  }

  async start(): Promise<void> {
    for (const row of await this.repo.all()) this.publish(row.id, row);
  }

  async stop(): Promise<void> {
    this.active.clear();
    this.repo.close();
  }
}

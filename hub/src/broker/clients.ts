import type { Client } from 'aedes';
import type { MQEmitter } from 'mqemitter';
import type { AccessService } from '../auth/access.ts';
import type { Credential } from '../auth/access-events.ts';
import type { Principal } from '../auth/principal.ts';
import type { Bus } from '../bus.ts';
import type { Config } from '../config/schema.ts';
import type { ErrorCode } from '../errors.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Presence } from '../presence/presence.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import type { ClientIdentity } from './acl.ts';
import type { DeviceDirectory } from './device-directory.ts';
import type { BrokerPersistence } from './persistence/index.ts';
import type { TokenBucket } from './rate-limiter.ts';
import type { CommandAckSink } from './session-hooks.ts';

export interface ClientState {
  identity: ClientIdentity;
  bucket: TokenBucket;
  /** when this connection's messages started being held back; 0 when not throttled */
  throttledSince: number;
  /** the API token a staff client logged in with (its session ends when the token is revoked) */
  credential?: Credential;
}

/**
 * May a staff client publish this request? (e.g. an ack only for an alert the person may see.)
 * Provided by the composition root, so the broker knows no alert internals.
 */
export interface StaffRequestGuard {
  mayPublish(principal: Principal, topic: string): Promise<boolean>;
}

export interface BrokerDeps {
  config: Config['mqtt'];
  directory: DeviceDirectory;
  access: AccessService;
  ingest: Ingest;
  presence: Presence;
  bus: Bus;
  storage: StorageHealth;
  metrics: Metrics;
  logger: Logger;
  /** sessions, retained messages and wills (config `mqtt.persistence`); a fresh one per start */
  persistence: () => BrokerPersistence;
  /** where devices' cmd/ack answers go */
  commandAcks?: CommandAckSink;
  staffRequests: StaffRequestGuard;
  /**
   * Cluster mode (issue 19): the emitter that carries publishes between nodes (mqemitter-redis) and
   * aedes' broker heartbeat, by which survivors know a dead node and publish its clients' wills.
   */
  cluster?: () => { mq: MQEmitter; heartbeatInterval: number };
}

/** The connections the broker knows: their identity and limits, by client and by device or person. */
export class ConnectedClients {
  readonly states = new WeakMap<Client, ClientState>();
  readonly byDevice = new Map<string, Set<Client>>();
  readonly byPerson = new Map<string, Set<Client>>();
  /** connections that sent an empty client id (aedes has assigned one before authenticate runs) */
  readonly assignedIds = new WeakSet<Client>();

  /** devices with a live connection here (the node registry's count) */
  get deviceCount(): number {
    let n = 0;
    for (const set of this.byDevice.values()) if (set.size > 0) n++;
    return n;
  }

  clear(): void {
    this.byDevice.clear();
    this.byPerson.clear();
  }
}

/** What the broker's parts (admission, the publish path) share. */
export interface BrokerCore {
  readonly deps: BrokerDeps;
  readonly clients: ConnectedClients;
  readonly log: Logger;
  readonly stopping: boolean;
  /** count and log (rate-limited) a refusal with its stable code */
  refuse(code: ErrorCode, fields: Record<string, unknown>, msg: string): void;
}

/** Shorthands the parts read the core through (their bodies read as the broker's did). */
export abstract class BrokerPart {
  constructor(protected readonly core: BrokerCore) {}
  protected get deps(): BrokerDeps {
    return this.core.deps;
  }
  protected get states() {
    return this.core.clients.states;
  }
  protected get clientsByDevice() {
    return this.core.clients.byDevice;
  }
  protected get clientsByPerson() {
    return this.core.clients.byPerson;
  }
  protected get assignedIds() {
    return this.core.clients.assignedIds;
  }
  protected get log(): Logger {
    return this.core.log;
  }
  protected get stopping(): boolean {
    return this.core.stopping;
  }
  protected refuse(code: ErrorCode, fields: Record<string, unknown>, msg: string): void {
    this.core.refuse(code, fields, msg);
  }
}

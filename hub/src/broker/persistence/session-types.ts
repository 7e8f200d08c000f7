import type { StoredPacket } from './session-file.ts';

/** The parts of a client and a subscription the persistence contract uses. */
export interface SessionClient {
  id: string;
}
export interface SessionSub {
  topic: string;
  qos: number;
  rh?: number;
  rap?: boolean;
  nl?: boolean;
  subscriptionIdentifier?: number;
}
export type BrokerLike = { id: string };

export interface OutEntry {
  seq: number;
  clientId: string;
  packet: StoredPacket;
  /** a row exists in the file (else the entry is still only in memory) */
  persisted: boolean;
  /** when it was enqueued (performance.now()) */
  at: number;
}

export interface SessionStoreObserver {
  /** a message was dropped from a session's queue because the queue was full */
  dropped(clientId: string): void;
  /** a batch reached the file (rows written) or failed */
  flushed(rows: number, ms: number): void;
  failed(err: unknown): void;
}

export interface SqlitePersistenceOptions {
  file: string;
  /** longest a change waits in memory before it is written */
  flushMs: number;
  /** messages kept per session; beyond it the oldest is dropped */
  queueLimit: number;
  observer?: SessionStoreObserver;
}

/** Messages between the main thread and the journal's writer thread (journal-worker.ts). */

export type JournalKind = 'event' | 'telemetry' | 'status';

/** One accepted device message on its way to disk. */
export interface JournalEntry {
  deviceId: string;
  /** events only: the device-unique id the dedupe record is keyed on */
  eventId: string | null;
  kind: JournalKind;
  /** the normalised message as JSON (what rules and the series store are given on replay) */
  body: string;
  receivedAt: number;
  /** InfluxDB line-protocol points of the message, spooled in the same transaction */
  lines: string[];
  /** rules have already run on it (a life-safety event is handled before its commit) */
  rulesDone: boolean;
}

export interface JournalRow {
  seq: number;
  kind: JournalKind;
  body: string;
  rulesDone: number;
}

export interface AppendResult {
  results: { seq: number | null; duplicate: boolean }[];
  /** oldest spool points dropped to stay within the bound */
  dropped: number;
}

export type JournalOp =
  | { op: 'append'; entries: JournalEntry[] }
  | { op: 'spoolAppend'; lines: string[] }
  | { op: 'rulesDone'; seqs: number[] }
  | { op: 'pending'; afterSeq: number; limit: number }
  | { op: 'since'; afterSeq: number; limit: number }
  | { op: 'spoolPeek'; limit: number }
  | { op: 'spoolRemove'; ids: number[] }
  | { op: 'spoolSize' }
  | { op: 'lastSeq' }
  | { op: 'prune'; consumedUpTo: number; seenBefore: number; limit: number }
  | { op: 'recentSeen'; limit: number }
  | { op: 'checkpoint' }
  | { op: 'probe' }
  | { op: 'close' };

export type JournalRequest = JournalOp & { id: number };

export type JournalResponse =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { code: string; message: string } };

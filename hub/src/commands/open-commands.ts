import { OPEN_COMMAND_STATES } from './command-schemas.ts';

/** An open command as the index keeps it. */
export interface OpenCommand {
  id: string;
  device_id: string;
  type: string;
}

/**
 * Which devices have open commands (queued, sent, acknowledged), by type, in memory. Every
 * self-test report and "silenced" event asked the store for the device's open commands, though
 * detectors self-test on their own schedule and almost never have one: the index answers "none"
 * without a query. It is rebuilt from the store by the sweep that already runs every second
 * (so a command another hub node created is known within a second) and kept current by this
 * process's own creates and finishes in between.
 */
export class OpenCommands {
  private byDevice = new Map<string, Map<string, string>>();
  /** commands created while a rebuild's query is under way (the query may not have seen them) */
  private createdDuringRebuild: OpenCommand[] | undefined;

  /** Might the device have an open command of this type? (false: it certainly has none) */
  has(deviceId: string, type: string): boolean {
    const open = this.byDevice.get(deviceId);
    if (!open) return false;
    for (const t of open.values()) if (t === type) return true;
    return false;
  }

  opened(c: OpenCommand): void {
    this.createdDuringRebuild?.push(c);
    add(this.byDevice, c);
  }

  /**
   * A command this node delivered (its PUBACK, from the payload): open here at once. It may have
   * been created on another node, and this index learns of those only at its next rebuild, while
   * the device's result event follows at once, on this node. (One already finished stays until the
   * rebuild: `has` only says "might", and the store says no.)
   */
  delivered(deviceId: string, id: string | undefined, type: string | undefined): void {
    if (id && type) this.opened({ id, device_id: deviceId, type });
  }

  /** A command moved on to `state`: gone from the index once it is no longer open. */
  moved(c: OpenCommand | undefined, state: string): void {
    if (!c || (OPEN_COMMAND_STATES as readonly string[]).includes(state)) return;
    const open = this.byDevice.get(c.device_id);
    open?.delete(c.id);
    if (open?.size === 0) this.byDevice.delete(c.device_id);
  }

  /** Replace the index with the store's open commands, read by `read`. */
  async rebuild<T extends OpenCommand>(read: () => Promise<T[]>): Promise<T[]> {
    this.createdDuringRebuild = [];
    try {
      const rows = await read();
      const next = new Map<string, Map<string, string>>();
      for (const c of [...rows, ...this.createdDuringRebuild]) add(next, c);
      this.byDevice = next;
      return rows;
    } finally {
      this.createdDuringRebuild = undefined;
    }
  }
}

function add(index: Map<string, Map<string, string>>, c: OpenCommand): void {
  let open = index.get(c.device_id);
  if (!open) {
    open = new Map();
    index.set(c.device_id, open);
  }
  open.set(c.id, c.type);
}

/**
 * Each device's cmd/ack being stored. Its result event may follow the ack at once and reach the
 * command service before the ack is stored (the event's path does not wait for the ack's), and
 * then finds the command not yet acknowledged: the event waits for the ack first.
 */
export class AcksInFlight {
  private readonly byDevice = new Map<string, Promise<void>>();

  track(deviceId: string, storing: Promise<void>): Promise<void> {
    const p = storing.finally(() => {
      if (this.byDevice.get(deviceId) === p) this.byDevice.delete(deviceId);
    });
    this.byDevice.set(deviceId, p);
    return p;
  }

  async settled(deviceId: string): Promise<void> {
    await this.byDevice.get(deviceId)?.catch(() => undefined);
  }
}

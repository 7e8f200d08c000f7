/**
 * The few facts the broker needs about a command on the wire, without the command service: its id
 * and whether its time ran out. Payloads are the hub's own (TOPICS.command), so a cheap text check
 * comes before any parse.
 */
export function commandIdOf(payload: Buffer | string): string | undefined {
  try {
    const id = (JSON.parse(payload.toString()) as { commandId?: unknown }).commandId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

export function commandExpired(payload: Buffer | string, now: number): boolean {
  if (!payload.includes('"expiresAt"')) return false;
  try {
    const at = (JSON.parse(payload.toString()) as { expiresAt?: unknown }).expiresAt;
    return typeof at === 'number' && at <= now;
  } catch {
    return false;
  }
}

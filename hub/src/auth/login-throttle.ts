/**
 * Failed sign-ins, counted two ways (issue 14):
 *
 * - per user name and address: `pairMaxFailures` failures lock that name from that address for
 *   15 minutes (a guesser at one machine);
 * - per user name across all addresses: `userMaxFailures` failures within 15 minutes lock the name
 *   for `userLockMs` (a guesser spread over many addresses) — but only for addresses the person
 *   has never signed in from. So the lock cannot keep people out of their own phone or PC, it is
 *   short, and failures while it holds do not extend it: an attacker buys one short lock per
 *   `userMaxFailures` guesses and never locks anyone out for long.
 *
 * All in memory and bounded (a flood of made-up user names cannot grow it without limit); a
 * restart clears it (docs/decisions.md).
 */
export interface ThrottleOptions {
  pairMaxFailures: number;
  userMaxFailures: number;
  userLockMs: number;
}

const WINDOW_MS = 15 * 60_000;
const MAX_ENTRIES = 10_000;
const TRUSTED_PER_USER = 20;

interface PairCount {
  count: number;
  until: number;
}
interface UserCount {
  count: number;
  since: number;
  lockedUntil: number;
}

/** Insert into a map that never holds more than MAX_ENTRIES (the oldest go first). */
function put<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > MAX_ENTRIES) map.delete(map.keys().next().value as string);
}

export class LoginThrottle {
  private readonly pairs = new Map<string, PairCount>();
  private readonly users = new Map<string, UserCount>();
  /** addresses each user name signed in from successfully (most recent last) */
  private readonly trusted = new Map<string, string[]>();
  /** cluster mode: told of each local failure and success, to count it on every node (issue 19) */
  observer:
    | { failed(username: string, from: string): void; succeeded(username: string, from: string): void }
    | undefined;

  constructor(
    private readonly options: ThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {}

  private static pair(username: string, from: string): string {
    return `${username}\u0000${from}`;
  }

  /** Is this sign-in refused before the password is even checked? */
  locked(username: string, from: string): boolean {
    const now = this.now();
    const p = this.pairs.get(LoginThrottle.pair(username, from));
    if (p && p.count >= this.options.pairMaxFailures && p.until > now) return true;
    const u = this.users.get(username);
    return u !== undefined && u.lockedUntil > now && !this.trusted.get(username)?.includes(from);
  }

  /** `remote`: another cluster node saw it (counted here, not passed on again) */
  failed(username: string, from: string, remote = false): void {
    if (!remote) this.observer?.failed(username, from);
    const now = this.now();
    const key = LoginThrottle.pair(username, from);
    const p = this.pairs.get(key);
    put(this.pairs, key, { count: (p && p.until > now ? p.count : 0) + 1, until: now + WINDOW_MS });

    let u = this.users.get(username);
    if (u && u.lockedUntil > now) return; // a lock is not extended by what happens during it
    if (!u || now - u.since > WINDOW_MS || u.lockedUntil !== 0) u = { count: 0, since: now, lockedUntil: 0 };
    u.count += 1;
    if (u.count >= this.options.userMaxFailures) u.lockedUntil = now + this.options.userLockMs;
    put(this.users, username, u);
  }

  succeeded(username: string, from: string, remote = false): void {
    if (!remote) this.observer?.succeeded(username, from);
    this.pairs.delete(LoginThrottle.pair(username, from));
    const list = (this.trusted.get(username) ?? []).filter((a) => a !== from);
    list.push(from);
    put(this.trusted, username, list.slice(-TRUSTED_PER_USER));
  }
}

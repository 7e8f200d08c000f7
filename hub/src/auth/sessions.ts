import { randomBytes } from 'node:crypto';
import { appendAudit } from '../audit/audit-log.ts';
import { GridhubError } from '../errors.ts';
import type { Db, Store } from '../store/store.ts';
import type { AccessService } from './access.ts';
import type { Credential } from './access-events.ts';
import { hashPassword, sha256Hex, verifyPassword } from './credentials.ts';
import { LoginThrottle } from './login-throttle.ts';

/** Sign-in attempts for one user name allowed to wait for the one being checked. */
const MAX_WAITING_PER_USER = 8;

import { actorOf, type Principal, requirePermission } from './principal.ts';

export interface SessionOptions {
  sessionHours: number;
  loginMaxFailures: number;
  loginUserMaxFailures: number;
  loginUserLockSeconds: number;
}

export interface Session {
  principal: Principal;
  csrf: string;
  expiresAt: number;
  /** the session's id hash: what `access.changed` names when this one session ends */
  credential: Credential;
}

// A hash of nothing in particular: unknown users cost one scrypt too, so timing does not tell them
// apart. Made on the first sign-in, not at import.
let dummyHash: Promise<string> | undefined;
const dummy = () => {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
};

/**
 * Passwords (scrypt) and console sessions. The cookie carries a random id; the store keeps only its
 * hash, with the CSRF token the console must echo in X-CSRF-Token on every change.
 */
export class SessionService {
  /** failed sign-ins (cluster mode shares its counts through the relay, cluster/event-relay.ts) */
  readonly throttle: LoginThrottle;
  private readonly pending = new Map<string, { tail: Promise<void>; waiting: number }>();

  constructor(
    private readonly store: Store,
    private readonly access: AccessService,
    private readonly options: SessionOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.throttle = new LoginThrottle(
      {
        pairMaxFailures: options.loginMaxFailures,
        userMaxFailures: options.loginUserMaxFailures,
        userLockMs: options.loginUserLockSeconds * 1000,
      },
      now,
    );
  }

  private get db(): Db {
    return this.store.db;
  }

  /** Check a user name and password; throws GH_ERR_LOGIN_FAILED / GH_ERR_LOGIN_LOCKED. */
  /**
   * Password checks for one user name run one at a time: sent in parallel, guesses would all pass
   * the lock check before the first failure was counted (red team: 60 parallel guesses, no lock).
   * Beyond a few waiting, more are refused at once as locked.
   */
  async verify(username: string, password: string, from: string): Promise<Principal> {
    const queue = this.pending.get(username) ?? { tail: Promise.resolve(), waiting: 0 };
    if (queue.waiting >= MAX_WAITING_PER_USER) throw new GridhubError('GH_ERR_LOGIN_LOCKED');
    queue.waiting++;
    this.pending.set(username, queue);
    const previous = queue.tail;
    let release = () => {};
    queue.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await this.verifyOne(username, password, from);
    } finally {
      queue.waiting--;
      if (queue.waiting === 0) this.pending.delete(username);
      release();
    }
  }

  private async verifyOne(username: string, password: string, from: string): Promise<Principal> {
    if (this.throttle.locked(username, from)) throw new GridhubError('GH_ERR_LOGIN_LOCKED');
    const person = await this.db
      .selectFrom('people')
      .selectAll()
      .where('id', '=', username)
      .where('active', '=', 1)
      .executeTakeFirst();
    const ok = await verifyPassword(password, person?.password_hash ?? (await dummy()));
    if (!person?.password_hash || !ok) {
      this.throttle.failed(username, from);
      throw new GridhubError('GH_ERR_LOGIN_FAILED');
    }
    this.throttle.succeeded(username, from);
    return this.access.principalOf(person);
  }

  /** Sign in: returns the cookie value (shown to the browser only) and the session. */
  async login(username: string, password: string, from: string): Promise<{ cookie: string } & Session> {
    const principal = await this.verify(username, password, from);
    const cookie = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const expiresAt = this.now() + this.options.sessionHours * 3_600_000;
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('sessions').where('expires_at', '<', this.now()).execute();
      await trx
        .insertInto('sessions')
        .values({
          id_hash: sha256Hex(cookie),
          person_id: principal.personId,
          csrf,
          created_at: this.now(),
          expires_at: expiresAt,
        })
        .execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'session.login',
        entityType: 'person',
        entityId: principal.personId,
        data: { from },
      });
    });
    return { cookie, principal, csrf, expiresAt, credential: { kind: 'session', id: sha256Hex(cookie) } };
  }

  async authenticate(cookie: string): Promise<Session | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .innerJoin('people', 'people.id', 'sessions.person_id')
      .selectAll('people')
      .select(['sessions.csrf', 'sessions.expires_at'])
      .where('sessions.id_hash', '=', sha256Hex(cookie))
      .where('people.active', '=', 1)
      .executeTakeFirst();
    if (!row || row.expires_at <= this.now()) return undefined;
    return {
      principal: await this.access.principalOf(row),
      csrf: row.csrf,
      expiresAt: row.expires_at,
      credential: { kind: 'session', id: sha256Hex(cookie) },
    };
  }

  async logout(cookie: string): Promise<void> {
    const id = sha256Hex(cookie);
    const row = await this.db
      .selectFrom('sessions')
      .select('person_id')
      .where('id_hash', '=', id)
      .executeTakeFirst();
    await this.db.deleteFrom('sessions').where('id_hash', '=', id).execute();
    if (row)
      this.access.changed({
        personId: row.person_id,
        reason: 'signed-out',
        credential: { kind: 'session', id },
      });
  }

  /**
   * Set a password: an admin for anyone, or a person for themselves with the current password.
   * Every session of that person ends, so a changed password locks out whoever knew the old one.
   */
  async setPassword(
    principal: Principal,
    personId: string,
    password: string,
    currentPassword: string | undefined,
  ): Promise<void> {
    const self = principal.personId === personId;
    if (!self) requirePermission(principal, 'people:write');
    const person = await this.db
      .selectFrom('people')
      .select(['id', 'password_hash'])
      .where('id', '=', personId)
      .executeTakeFirst();
    if (!person) throw new GridhubError('GH_ERR_PERSON_UNKNOWN', `no person '${personId}'`);
    if (self && !principal.roles.includes('admin') && person.password_hash) {
      if (!currentPassword || !(await verifyPassword(currentPassword, person.password_hash)))
        throw new GridhubError('GH_ERR_LOGIN_FAILED', 'the current password is wrong');
    }
    const hash = await hashPassword(password);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('people')
        .set({ password_hash: hash, updated_at: this.now() })
        .where('id', '=', personId)
        .execute();
      await trx.deleteFrom('sessions').where('person_id', '=', personId).execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'person.password',
        entityType: 'person',
        entityId: personId,
      });
    });
    this.access.changed({ personId, reason: 'password-changed', credential: { kind: 'session' } });
  }
}

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { type DatabaseConnection, type Dialect, type Driver, Kysely, Migrator, SqliteDialect } from 'kysely';
import type { Logger } from '../logger.ts';
import { migrationProvider } from './migrations.ts';
import { checkPostgres, ensureRowids, postgresDialect, redactUrl } from './postgres.ts';
import type { Database } from './tables.ts';

export type Db = Kysely<Database>;

/**
 * Kysely's SQLite dialect, except that a ROLLBACK after SQLite already rolled the transaction back
 * (it does so itself on SQLITE_FULL and some I/O errors) does not replace the real error with
 * "cannot rollback - no transaction is active": the caller must see SQLITE_FULL to answer 507.
 */
class StoreDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    const rollback = driver.rollbackTransaction.bind(driver);
    driver.rollbackTransaction = async (connection: DatabaseConnection) => {
      try {
        await rollback(connection);
      } catch (err) {
        if (!/no transaction is active/.test((err as Error).message)) throw err;
      }
    };
    return driver;
  }
}

/**
 * Kysely prepares every query it runs; preparing is most of what a small query costs (profiled: a
 * fifth of a 200,000-row CSV dry run). The same few hundred SQL texts recur, so the prepared
 * statements are kept and reused (better-sqlite3 statements are reusable; the hub never streams
 * a query, which would hold one busy).
 */
function cachedStatements(sqlite: BetterSqlite3.Database) {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (sql: string) => {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = sqlite.prepare(sql);
        cache.set(sql, stmt);
        // Queries with IN lists of varying length make distinct texts: keep the cache bounded.
        if (cache.size > 2000) cache.delete(cache.keys().next().value as string);
      }
      return stmt;
    },
  };
}

export type StoreDialectName = 'sqlite' | 'postgres';

/**
 * The store: by default one SQLite file in WAL mode under the data directory; with a
 * `postgres://` URL (store.url) a PostgreSQL database, with the same tables from the same
 * migrations (store/postgres.ts says what is made to match). A service, not a module singleton:
 * the composition root opens it and hands it to the services that need it.
 */
export class Store {
  readonly file: string;
  readonly dialect: StoreDialectName;
  private sqliteHandle: BetterSqlite3.Database | undefined;
  private kysely: Db | undefined;
  private open = false;

  constructor(
    dataDir: string,
    private readonly logger: Logger,
    private readonly url = '',
  ) {
    this.file = join(dataDir, 'gridhub.sqlite');
    this.dialect = url === '' ? 'sqlite' : 'postgres';
  }

  /** Where the data is, as it may be shown (a PostgreSQL URL without its password). */
  get location(): string {
    return this.dialect === 'sqlite' ? this.file : redactUrl(this.url);
  }

  get db(): Db {
    if (!this.kysely) throw new Error('store is not started');
    return this.kysely;
  }

  /**
   * The synchronous SQLite handle, on SQLite only: the storage probe and tests that look inside
   * the file. Services use `db`, which works on both dialects.
   */
  get sqlite(): BetterSqlite3.Database {
    if (!this.sqliteHandle) throw new Error(`store is not started or not SQLite (${this.dialect})`);
    return this.sqliteHandle;
  }

  /** One small write, so storage health notices a full disk or a lost server without a user's write. */
  async writeProbe(): Promise<void> {
    const probe = { key: 'storage.probe', value: new Date().toISOString() };
    await this.db
      .insertInto('settings')
      .values(probe)
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: probe.value }))
      .execute();
  }

  get isOpen(): boolean {
    return this.dialect === 'sqlite' ? this.sqliteHandle?.open === true : this.open;
  }

  private openSqlite(): Dialect {
    mkdirSync(join(this.file, '..'), { recursive: true });
    const sqlite = new BetterSqlite3(this.file);
    sqlite.pragma('journal_mode = WAL');
    // NORMAL, and no automatic checkpoints: a commit here costs no fsync on the event loop that
    // serves alarms (one took 0.5 s under load). The journal's writer thread checkpoints this file
    // every few hundred milliseconds, which syncs its WAL, and marks a device message done only
    // after that — so nothing a device caused is lost to a power cut (it would be run again).
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('wal_autocheckpoint = 0');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    this.sqliteHandle = sqlite;
    return new StoreDialect({ database: cachedStatements(sqlite) });
  }

  async start(): Promise<void> {
    let dialect: Dialect;
    if (this.dialect === 'postgres') {
      const { dialect: pgDialect, pool } = postgresDialect(this.url);
      try {
        await checkPostgres(pool, this.url);
      } catch (err) {
        await pool.end();
        throw err;
      }
      dialect = pgDialect;
    } else {
      dialect = this.openSqlite();
    }
    this.kysely = new Kysely<Database>({ dialect });
    this.open = true;
    try {
      const migrator = new Migrator({ db: this.kysely, provider: migrationProvider });
      const { error, results } = await migrator.migrateToLatest();
      for (const r of results ?? []) {
        this.logger.info({ migration: r.migrationName, status: r.status }, 'migration');
      }
      if (error) throw error;
      // In one store transaction (it holds the store's lock): nodes of a cluster starting at once
      // would otherwise both add the same column.
      if (this.dialect === 'postgres')
        await this.kysely.transaction().execute((trx) => ensureRowids(trx as unknown as Kysely<unknown>));
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.logger.info({ dialect: this.dialect, location: this.location }, 'store open');
  }

  async stop(): Promise<void> {
    this.open = false;
    // Kysely's destroy closes the better-sqlite3 handle, or ends the pool, it was given.
    await this.kysely?.destroy();
    this.kysely = undefined;
    this.sqliteHandle = undefined;
  }
}

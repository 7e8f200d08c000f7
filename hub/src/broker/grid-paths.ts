import type { Statement } from 'better-sqlite3';
import type { Store } from '../store/store.ts';

/**
 * Grid node id → materialised path, for per-message jurisdiction checks on hub topics. Grid trees
 * change rarely; entries are refreshed after `ttlMs` so a moved node is seen within that time.
 */
export class GridPaths {
  private readonly cache = new Map<string, { path: string | undefined; until: number }>();
  private statement: Statement<[string], { path: string }> | undefined;

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 30_000,
  ) {}

  pathOf(gridNodeId: string): string | undefined {
    const now = Date.now();
    const hit = this.cache.get(gridNodeId);
    if (hit && hit.until > now) return hit.path;
    this.statement ??= this.store.sqlite.prepare('SELECT path FROM grid_nodes WHERE id = ?');
    const path = this.statement.get(gridNodeId)?.path;
    this.cache.set(gridNodeId, { path, until: now + this.ttlMs });
    return path;
  }

  clear(): void {
    this.cache.clear();
    this.statement = undefined;
  }
}

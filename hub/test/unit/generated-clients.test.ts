/**
 * The generated clients (clients/api.gen.ts for the console and the simulator, the Node-RED nodes'
 * flows/nodes/lib/contract.gen.js) are what the hub serves now: a route schema or a contract record
 * that changed without `npm run generate` fails here, like the README tables. Opens no socket (the
 * document comes from a hub started with `{ listen: false }`).
 */
import { describe, expect, it } from 'vitest';
import { readGenerated, renderGenerated } from '../../../scripts/generate-clients.ts';

describe('generated clients', () => {
  it('match the served OpenAPI document and the contract records (npm run generate)', async () => {
    const generated = await renderGenerated();
    expect(generated).toHaveLength(2);
    for (const { file, content } of generated) {
      expect(content.length).toBeGreaterThan(1000);
      expect(readGenerated(file) === content, `${file.pathname} is stale: run npm run generate`).toBe(true);
    }
  }, 60_000);
});

import { randomBytes } from 'node:crypto';
import type { Db } from './store.ts';

/**
 * A secret kept in the store's settings: the configured one when there is one, else the stored
 * one, else a new random one stored now (generated once, so links and sessions signed with it stay
 * valid across restarts).
 */
export async function storedSecret(db: Db, key: string, configured: string): Promise<string> {
  if (configured) return configured;
  const stored = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  if (stored) return stored.value;
  const secret = randomBytes(32).toString('base64url');
  await db.insertInto('settings').values({ key, value: secret }).execute();
  return secret;
}

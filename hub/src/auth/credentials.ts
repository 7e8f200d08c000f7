import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (
  pw: string,
  salt: Buffer,
  len: number,
  opts: object,
) => Promise<Buffer>;

/** 256-bit random token, URL-safe, with a prefix that says what it is (ghk API, ghd device, ghi integration push), so leaks are recognisable. */
export function newToken(prefix: 'ghk' | 'ghd' | 'ghi'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/**
 * API tokens and device secrets are high-entropy random values, so a fast hash is enough and keeps
 * a reconnect storm cheap (DESIGN.md contract 2). Human passwords use scrypt below.
 */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export function secretMatches(secret: string, storedHashHex: string): boolean {
  const actual = createHash('sha256').update(secret, 'utf8').digest();
  const expected = Buffer.from(storedHashHex, 'hex');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}

// scrypt parameters: N=2^15, r=8, p=1 (≈ 32 MiB, tens of ms): the OWASP-recommended minimum.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, key] = stored.split('$');
  if (alg !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return timingSafeEqual(actual, expected);
}

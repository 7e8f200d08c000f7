import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { GridhubError } from '../errors.ts';

const VERSION = 'v1';

/**
 * Secrets the hub must *use*, not only compare (a OneNET token to check MD5 signatures, a
 * ChirpStack broker password): AES-256-GCM with a key that lives in a file of its own, outside the
 * SQLite store, so a copied database or backup alone does not give them away (docs/decisions.md).
 * The integration id is the additional authenticated data: a ciphertext moved to another row does
 * not decrypt.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /**
   * The key from `file`, generated (32 random bytes, Base64, mode 0600) when the file is missing.
   * Cluster nodes share one file (they must open each other's secrets): the key is written beside
   * it and linked into place, so nodes starting together all read the one that won, never half of it.
   */
  static fromFile(file: string): SecretBox {
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true });
      const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
      writeFileSync(draft, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      try {
        linkSync(draft, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        unlinkSync(draft);
      }
    }
    chmodSync(file, 0o600);
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32)
      throw new GridhubError(
        'GH_ERR_CONFIG_INVALID',
        `${file}: the integration key must be 32 bytes (Base64)`,
      );
    return new SecretBox(key);
  }

  seal(plain: Record<string, string>, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string, aad: string): Record<string, string> {
    const [version, data] = sealed.split(':');
    if (version !== VERSION || !data) throw new GridhubError('GH_ERR_INTERNAL', 'unknown secret format');
    const raw = Buffer.from(data, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(12, 28));
    let plain: string;
    try {
      plain = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new GridhubError(
        'GH_ERR_CONFIG_INVALID',
        `the secrets of integration '${aad}' do not open with this hub's key: every node of a cluster needs the same ingress.secretKeyFile`,
      );
    }
    return JSON.parse(plain) as Record<string, string>;
  }
}

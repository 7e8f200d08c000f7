import type { Kysely, Transaction } from 'kysely';
import type { ErrorCode } from '../errors.ts';
import type { Database } from '../store/tables.ts';

/**
 * Platform identities of a device that does not dial the broker (issue 20): the IMEI of an NB-IoT
 * unit, the id a carrier platform gave it, the devEui of a LoRaWAN device. Each is unique across
 * the registry when set, so a platform message names at most one device.
 */
export const IDENTITY_FIELDS = ['imei', 'platformDeviceId', 'devEui'] as const;
export type IdentityField = (typeof IDENTITY_FIELDS)[number];

export const IDENTITY_COLUMNS = {
  imei: 'imei',
  platformDeviceId: 'platform_device_id',
  devEui: 'dev_eui',
} as const satisfies Record<IdentityField, string>;

/** The stored form: devEui in lower case (platforms print it either way), others trimmed. */
export function normaliseIdentity(field: IdentityField, value: string): string {
  const v = value.trim();
  return field === 'devEui' ? v.toLowerCase() : v;
}

/** The same formats the API schema states, for CSV rows (which the API schema does not see). */
const FORMATS: Record<IdentityField, RegExp> = {
  imei: /^[0-9]{15}$/,
  platformDeviceId: /^[A-Za-z0-9_.:-]{1,64}$/,
  devEui: /^[0-9a-f]{16}$/,
};

type Trx = Transaction<Database> | Kysely<Database>;

/** Problems with the identities of a registration: taken by another device or twice in one import. */
export async function identityProblems(
  trx: Trx,
  input: Partial<Record<IdentityField, string>>,
  taken: Set<string>,
  self?: string,
): Promise<{ field: string; code: ErrorCode; reason: string }[]> {
  const problems: { field: string; code: ErrorCode; reason: string }[] = [];
  for (const field of IDENTITY_FIELDS) {
    const raw = input[field];
    if (raw === undefined) continue;
    const value = normaliseIdentity(field, raw);
    const key = `${field}:${value}`;
    if (!FORMATS[field].test(value)) {
      problems.push({ field, code: 'GH_ERR_VALIDATION', reason: `${field} '${value}' is not well-formed` });
      continue;
    }
    if (taken.has(key)) {
      problems.push({ field, code: 'GH_ERR_CONFLICT', reason: `${field} '${value}' appears twice` });
      continue;
    }
    const other = await trx
      .selectFrom('devices')
      .select('id')
      .where(IDENTITY_COLUMNS[field], '=', value)
      .executeTakeFirst();
    if (other && other.id !== self)
      problems.push({
        field,
        code: 'GH_ERR_CONFLICT',
        reason: `${field} '${value}' is already registered (device '${other.id}')`,
      });
    else taken.add(key);
  }
  return problems;
}

/** How a caller proved who they are: an API token (by its id) or a console session (by its id's hash). */
export type Credential = { kind: 'token'; id: string } | { kind: 'session'; id: string };

/**
 * A person's access changed (bus event `access.changed`). Live sessions that were admitted under
 * the old grant — MQTT connections, SSE streams — end at once; the client signs in again and gets
 * what it is granted now (issue 14: sessions must not outlive what they were granted).
 */
export interface AccessChanged {
  personId: string;
  reason: 'token-revoked' | 'signed-out' | 'password-changed' | 'grants-changed';
  /**
   * Which credentials of the person are affected: one token or session (with `id`), every one of a
   * kind (without `id`), or — when absent — all of them (roles, jurisdiction or activity changed).
   */
  credential?: { kind: Credential['kind']; id?: string };
}

/** Does this change end a session that `personId` opened with `credential`? */
export function endsSession(change: AccessChanged, personId: string, credential: Credential): boolean {
  if (change.personId !== personId) return false;
  const c = change.credential;
  if (!c) return true;
  return c.kind === credential.kind && (c.id === undefined || c.id === credential.id);
}

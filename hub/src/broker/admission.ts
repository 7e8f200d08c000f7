import type { Client } from 'aedes';
import type { Credential } from '../auth/access-events.ts';
import type { ClientIdentity } from './acl.ts';
import { BrokerPart } from './clients.ts';
import { TokenBucket } from './rate-limiter.ts';

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3. */
const CONNACK_IDENTIFIER_REJECTED = 2;
const CONNACK_BAD_CREDENTIALS = 4;
const CONNACK_NOT_AUTHORIZED = 5;
export const CONNACK_SERVER_UNAVAILABLE = 3;

export function authError(message: string, returnCode: number) {
  return Object.assign(new Error(message), { returnCode }) as Error & { returnCode: never };
}

/**
 * Client ids are bound to identities (issue 14): MQTT-3.1.4-2 lets a second CONNECT with a live
 * client id take that session over, so an id anyone may choose is a way to kick a panic button off.
 * A device's client id is its device id; a staff client's is its person id, alone or followed by
 * `:` and any suffix (`:` cannot occur in a person id, so no person's ids overlap another's).
 */
export function clientIdBound(identity: ClientIdentity, clientId: string): boolean {
  if (identity.kind === 'device') return clientId === identity.device.deviceId;
  const person = identity.principal.personId;
  return clientId === person || clientId.startsWith(`${person}:`);
}

/**
 * Admission at CONNECT (aedes' `authenticate`): identity from credentials — a device by its id and
 * secret, a staff client by its person id and API token —, the client id bound to it, the CONNACK
 * return code on refusal, and the connection's rate limit.
 */
export class Admission extends BrokerPart {
  authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: (Error & { returnCode: never }) | null, ok: boolean | null) => void,
  ): void {
    if (this.stopping) return done(authError('shutting down', CONNACK_SERVER_UNAVAILABLE), false);
    const assigned = this.assignedIds.has(client);
    if (assigned && !client.clean) {
      // MQTT-3.1.3-8: a zero-byte client id needs cleanSession=1; otherwise CONNACK 0x02 and close.
      this.refuse('GH_ERR_MQTT_CLIENT_ID_EMPTY', { clientId: '', username }, 'MQTT connect refused');
      return done(authError('empty client id needs a clean session', CONNACK_IDENTIFIER_REJECTED), false);
    }
    const secret = password?.toString('utf8') ?? '';
    if (!username || !secret) {
      this.refuse('GH_ERR_MQTT_BAD_CREDENTIALS', { clientId: client.id }, 'MQTT connect without credentials');
      return done(authError('credentials required', CONNACK_BAD_CREDENTIALS), false);
    }
    // With valid credentials, the client id must be bound to them; a server-assigned id (from an
    // empty one with a clean session) belongs to nobody else and cannot take anything over.
    const admit = (identity: ClientIdentity, credential?: Credential) => {
      const clash = this.idClash(identity);
      if (clash) {
        this.refuse('GH_ERR_IDENTITY_ID_TAKEN', { clientId: client.id, ...clash }, clash.why);
        return done(authError('client id names two identities', CONNACK_IDENTIFIER_REJECTED), false);
      }
      if (!assigned && !clientIdBound(identity, client.id)) {
        this.refuse(
          'GH_ERR_MQTT_CLIENT_ID_MISMATCH',
          {
            clientId: client.id,
            ...(identity.kind === 'device'
              ? { deviceId: identity.device.deviceId }
              : { personId: identity.principal.personId }),
          },
          'MQTT connect refused: client id not bound to the credentials',
        );
        return done(authError('client id not bound to the credentials', CONNACK_IDENTIFIER_REJECTED), false);
      }
      this.attach(client, identity, credential);
      done(null, true);
    };
    if (secret.startsWith('ghk_')) {
      // Staff client: user name is the person id, password an API token of that person.
      this.deps.access.authenticateToken(secret).then(
        (found) => {
          if (!found || found.principal.personId !== username) {
            this.refuse(
              'GH_ERR_MQTT_BAD_CREDENTIALS',
              { clientId: client.id, username },
              'MQTT staff login refused',
            );
            return done(authError('bad credentials', CONNACK_BAD_CREDENTIALS), false);
          }
          admit({ kind: 'staff', principal: found.principal }, found.credential);
        },
        (err: unknown) => {
          this.log.error({ err }, 'staff authentication failed');
          done(authError('unavailable', CONNACK_SERVER_UNAVAILABLE), false);
        },
      );
      return;
    }
    this.deps.directory.verify(username, secret).then(
      (check) => {
        if (!check.ok) {
          // An unknown device and a wrong secret look the same to the client (no probing for ids);
          // the metrics and the log say which it was.
          this.refuse(check.code, { clientId: client.id, deviceId: username }, 'MQTT device login refused');
          const rc =
            check.code === 'GH_ERR_DEVICE_DECOMMISSIONED' ? CONNACK_NOT_AUTHORIZED : CONNACK_BAD_CREDENTIALS;
          return done(
            authError(
              check.code === 'GH_ERR_DEVICE_UNKNOWN' ? 'GH_ERR_MQTT_BAD_CREDENTIALS' : check.code,
              rc,
            ),
            false,
          );
        }
        admit({ kind: 'device', device: check.device });
      },
      // The store unreachable (PostgreSQL down): "server unavailable", and the device retries.
      (err: unknown) => {
        this.log.error({ err }, 'device authentication failed');
        done(authError('unavailable', CONNACK_SERVER_UNAVAILABLE), false);
      },
    );
  }

  /**
   * A device whose id is also a person's (older data, from before registration refused it): its
   * client id would name both, and whichever connected second would take over the other's session.
   * The device is refused (a person's id comes from an admin's community file, a device's from an
   * installer; the operator re-registers the device under its own id, the log names it), so the
   * person's app keeps its session and nothing is taken over either way.
   */
  private idClash(identity: ClientIdentity): { deviceId: string; why: string } | undefined {
    if (identity.kind !== 'device' || !identity.device.idIsPerson) return undefined;
    return {
      deviceId: identity.device.deviceId,
      why: 'MQTT connect refused: the device id is also a person id; register the device under an id of its own',
    };
  }

  private attach(client: Client, identity: ClientIdentity, credential?: Credential): void {
    const { ratePerSecond, rateBurst } = this.deps.config;
    this.states.set(client, {
      identity,
      bucket: new TokenBucket(ratePerSecond, rateBurst),
      throttledSince: 0,
      ...(credential ? { credential } : {}),
    });
    const [index, key] =
      identity.kind === 'device'
        ? [this.clientsByDevice, identity.device.deviceId]
        : [this.clientsByPerson, identity.principal.personId];
    const set = index.get(key) ?? new Set();
    set.add(client);
    index.set(key, set);
  }
}

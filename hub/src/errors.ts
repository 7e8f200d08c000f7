/**
 * The registry of stable error codes. The same code appears in REST responses, MQTT rejection
 * logs and metrics, and the console. Codes are never reused or renamed; retire one by leaving it here.
 */
export const ERROR_CODES = {
  GH_ERR_INTERNAL: { status: 500, description: 'Unexpected server error; details are in the log.' },
  GH_ERR_CONFIG_INVALID: {
    status: 500,
    description: 'The configuration has invalid values; start-up stops.',
  },
  GH_ERR_VALIDATION: {
    status: 400,
    description: 'The request body, query or params do not match the schema.',
  },
  GH_ERR_UNAUTHENTICATED: { status: 401, description: 'No valid bearer token or session was presented.' },
  GH_ERR_LOGIN_FAILED: {
    status: 401,
    description: 'Wrong user name or password (which of the two is not said).',
  },
  GH_ERR_LOGIN_LOCKED: {
    status: 429,
    description:
      'Too many failed sign-ins for this user name (from this address, or from many addresses at once); try again later.',
  },
  GH_ERR_CSRF: {
    status: 403,
    description: 'A session-authenticated change without the session’s X-CSRF-Token header.',
  },
  GH_ERR_FORBIDDEN_ROLE: { status: 403, description: 'The caller’s role does not allow this action.' },
  GH_ERR_FORBIDDEN_SCOPE: { status: 403, description: 'The target lies outside the caller’s jurisdiction.' },
  GH_ERR_NOT_FOUND: { status: 404, description: 'No such route or resource.' },
  GH_ERR_CONFLICT: { status: 409, description: 'The resource already exists or changed meanwhile.' },
  GH_ERR_INVALID_TRANSITION: {
    status: 409,
    description: 'The action is not allowed from the current state.',
  },
  GH_ERR_PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body or device payload is too large.' },
  GH_ERR_COMMUNITY_INVALID: {
    status: 422,
    description:
      'A community file has errors (dangling references, duplicate ids, schema); nothing was written.',
  },
  GH_ERR_CSV_INVALID: {
    status: 422,
    description: 'A device CSV has bad rows; every bad row is listed and nothing was written.',
  },
  GH_ERR_GRID_NODE_UNKNOWN: { status: 404, description: 'The referenced grid node does not exist.' },
  GH_ERR_SITE_UNKNOWN: { status: 404, description: 'The referenced site does not exist.' },
  GH_ERR_EMERGENCY_UNIT_UNKNOWN: {
    status: 404,
    description: 'The referenced emergency unit does not exist.',
  },
  GH_ERR_MODEL_UNKNOWN: { status: 404, description: 'The referenced device model does not exist.' },
  GH_ERR_PERSON_UNKNOWN: { status: 404, description: 'The referenced person does not exist.' },
  GH_ERR_DEVICE_UNKNOWN: {
    status: 404,
    description: 'No device with this id (REST), or an MQTT client named an unregistered device.',
  },
  GH_ERR_DEVICE_DECOMMISSIONED: {
    status: 409,
    description: 'The device is decommissioned; its credentials are void.',
  },
  // MQTT admission and ingest (issue 3); listed now so that codes stay stable from the start.
  GH_ERR_MQTT_BAD_CREDENTIALS: {
    status: 401,
    description: 'MQTT CONNECT with a wrong or missing secret/token.',
  },
  GH_ERR_MQTT_PUBLISH_FORBIDDEN: {
    status: 403,
    description: 'A client published to a topic it may not use (e.g. under another device id).',
  },
  GH_ERR_MQTT_SUBSCRIBE_FORBIDDEN: {
    status: 403,
    description: 'A client subscribed to a topic it may not read.',
  },
  GH_ERR_PAYLOAD_NOT_JSON: { status: 400, description: 'A device payload is not valid UTF-8 JSON.' },
  GH_ERR_PAYLOAD_SCHEMA: { status: 400, description: 'A device payload does not match its model’s schema.' },
  GH_ERR_TOPIC_UNKNOWN: {
    status: 400,
    description: 'A device published to a topic that is not part of the contract.',
  },
  GH_ERR_EVENT_TYPE_UNKNOWN: { status: 400, description: 'A device event type is not known for its model.' },
  GH_ERR_RATE_LIMITED: { status: 429, description: 'A client exceeded its publish rate and was throttled.' },
  GH_ERR_FLOOD_DISCONNECT: {
    status: 429,
    description: 'A client was disconnected for flooding (throttled for too long).',
  },
  GH_ERR_OVERLOADED: { status: 503, description: 'The hub’s ingest queue is full; the message was refused.' },
  GH_ERR_SLOW_CONSUMER: {
    status: 503,
    description:
      'An MQTT client did not read what the hub sent it (more than mqtt.maxBufferedBytes unread) and was disconnected.',
  },
  GH_ERR_STAFF_OUTPUT_DROPPED: {
    status: 503,
    description:
      'More ordinary hub output (device events, presence) waited for staff MQTT subscribers than mqtt.staffQueueMessages; the oldest was not published. Alerts, tickets, life-safety events and person messages are never dropped.',
  },
  GH_ERR_STORAGE_FULL: {
    status: 507,
    description:
      'The disk is full: the write was not made. The hub stays up, alerts go out from memory, devices get no PUBACK and resend later.',
  },
  GH_ERR_STORAGE_IO: {
    status: 507,
    description: 'The disk refused a write (I/O error, read-only file system); handled like a full disk.',
  },
  GH_ERR_STORE_UNAVAILABLE: {
    status: 503,
    description:
      'The PostgreSQL store (store.url) cannot be reached or refused the connection; start-up stops, the message names the URL without its password and what to check.',
  },
  GH_ERR_PAYLOAD_TOO_DEEP: {
    status: 400,
    description: 'A JSON payload or request body is nested deeper than the hub accepts.',
  },
  GH_ERR_DEVICE_CLOCK: {
    status: 400,
    description:
      'A device timestamp lies too far in the future or the past; the message is kept with the hub’s receive time instead.',
  },
  GH_ERR_COMMAND_UNSUPPORTED: {
    status: 422,
    description: 'The device’s model does not take this command (see the model’s commands).',
  },
  GH_ERR_COMMAND_UNKNOWN: {
    status: 404,
    description:
      'No such command for this device (REST), or a device answered on cmd/ack with an unknown commandId.',
  },
  // Issue 14 (security): sessions bound to identities, outbound HTTP guarded, nesting bounded.
  GH_ERR_MQTT_CLIENT_ID_MISMATCH: {
    status: 403,
    description:
      'MQTT CONNECT whose client id is not bound to its credentials (a device: its device id; staff: the person id, or the person id, a colon and a suffix).',
  },
  GH_ERR_MQTT_CLIENT_ID_EMPTY: {
    status: 400,
    description: 'MQTT CONNECT with an empty client id and cleanSession=0 (MQTT-3.1.3-8: CONNACK 0x02).',
  },
  GH_ERR_OUTBOUND_FORBIDDEN: {
    status: 400,
    description:
      'An outbound HTTP target (webhook, chat robot) is or resolves to an address the operator has not allowed (loopback, private, link-local, metadata, multicast …; see outbound.allow).',
  },
  GH_ERR_NESTING_TOO_DEEP: {
    status: 400,
    description: 'A request body or payload nests objects/arrays deeper than the hub accepts.',
  },
  // Issue 20 (integrations): devices that reach the hub through a carrier platform or a LoRaWAN server.
  GH_ERR_INTEGRATION_UNKNOWN: {
    status: 404,
    description: 'No integration with this id (or not of the kind the push URL names, or disabled).',
  },
  GH_ERR_INGRESS_UNAUTHENTICATED: {
    status: 401,
    description:
      'A platform push without a valid signature (OneNET msg_signature), push token or allowed source address (CTWing); nothing was accepted.',
  },
  GH_ERR_INGRESS_REPLAYED: {
    status: 409,
    description:
      'A platform push older than the dedupe window (ingest.dedupeRetentionHours): refused as a replay. (The OneNET URL verification GET changes nothing and may be repeated; see docs/decisions.md.)',
  },
  GH_ERR_INGRESS_MALFORMED: {
    status: 400,
    description: 'A platform push that is not the platform’s documented JSON (body, fields, types).',
  },
  GH_ERR_INGRESS_IDENTITY_UNKNOWN: {
    status: 404,
    description:
      'A platform message for an IMEI, platform device id or devEui no device is registered with; counted and listed as unmatched. Answered with HTTP 200 so the platform does not retry forever.',
  },
  GH_ERR_INGRESS_MODEL_NOT_CARRIED: {
    status: 422,
    description: 'A platform message for a device whose model the integration does not carry.',
  },
  GH_ERR_INGRESS_DECODE: {
    status: 422,
    description:
      'A device frame (hex/Base64) that the model’s byte decoder cannot read: too short, wrong start byte, unknown frame type or code.',
  },
  GH_ERR_INGRESS_UPSTREAM_DOWN: {
    status: 503,
    description:
      'The hub is not connected to an integration’s network-server broker (ChirpStack); it reconnects by itself.',
  },
  GH_ERR_IDENTITY_ID_TAKEN: {
    status: 409,
    description:
      'A device id equal to a person id, or a person id equal to a device id: both name an MQTT client id, so one could take over the other’s session. Refused at registration (device, CSV, community file, person); a device still holding a person’s id from older data is refused at CONNECT (CONNACK 0x02), so the person’s session is never taken over.',
  },
  GH_ERR_POLICY_CHAIN_INVALID: {
    status: 422,
    description:
      'An alert.chain policy names a person who is unknown, inactive, has no role that may acknowledge alerts, cannot see alerts at the policy’s place, or lies outside the caller’s jurisdiction; every problem is listed and nothing is changed.',
  },
  GH_ERR_CLUSTER_NEEDS_POSTGRES: {
    status: 500,
    description:
      'cluster.redisUrl is set but store.url is not a PostgreSQL URL: the nodes of a cluster share one PostgreSQL store, so start-up stops before anything is started.',
  },
  GH_ERR_CLUSTER_REDIS_UNAVAILABLE: {
    status: 503,
    description:
      'The cluster Redis (cluster.redisUrl) cannot be reached or refused the connection: at start-up the node does not start (the message names the URL without its password); later /ready reports it and the node keeps serving what it can.',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export class GridhubError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? ERROR_CODES[code].description);
    this.name = 'GridhubError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export function isGridhubError(err: unknown): err is GridhubError {
  return err instanceof GridhubError;
}

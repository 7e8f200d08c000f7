import Type from 'typebox';
import { AlertView } from '../alerts/alert-schemas.ts';
import { TicketView } from '../tickets/ticket-schemas.ts';

/**
 * Payloads of the hub → staff topics that are not device events or presence changes (those are in
 * device-event.ts). The broker serialises every staff message through its topic's schema
 * (projection.ts), so these are the whole truth of what a leader app or a flow receives.
 */

export const TicketChangedSchema = Type.Object(
  { ticket: TicketView, action: Type.String({ description: 'created, accept, escalate, …' }) },
  { title: 'TicketChanged' },
);
export type TicketChangedMessage = Type.Static<typeof TicketChangedSchema>;

/**
 * Every action an alert change carries (the alert topic, the console's stream): the README lists
 * them from here (a unit test compares), and the alerts service can emit no other.
 */
export const ALERT_CHANGE_ACTIONS = [
  'raised',
  'repeated',
  'repeated-after-ack',
  'upgraded',
  'renotified',
  'escalated',
  'acknowledged',
  'resolved',
  'false-alarm',
  'restored',
  'stored',
  'linked',
] as const;
export type AlertChangeAction = (typeof ALERT_CHANGE_ACTIONS)[number];

export const AlertChangeSchema = Type.Object(
  {
    seq: Type.Integer({ description: 'change number since the hub started (SSE Last-Event-ID)' }),
    action: Type.String({ description: ALERT_CHANGE_ACTIONS.join(', ') }),
    alert: AlertView,
  },
  { title: 'AlertChange' },
);

export const PersonAlertSchema = Type.Object(
  {
    alert: AlertView,
    text: Type.String({ description: 'the Chinese alert text, with the acknowledgement link' }),
    ackUrl: Type.String({ description: 'signed, expiring link that acknowledges for this person' }),
    deliveryId: Type.Optional(
      Type.Integer({
        description:
          'the delivery log entry this message is; a copy sent again after a reconnect has the same one (absent while the disk refuses writes)',
      }),
    ),
  },
  { title: 'PersonAlert' },
);

export const PersonMessageSchema = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    text: Type.String(),
    data: Type.Unknown({ description: 'what the sender attached (POST /api/v1/notify)' }),
  },
  { title: 'PersonMessage' },
);

export const AckRequestSchema = Type.Object(
  {},
  {
    title: 'Ack',
    description:
      'Any payload (e.g. {}); the topic names the alert. Refused (connection closed) for an alert the person may not see.',
  },
);

import type { Permission } from '../auth/roles.ts';

/** Ticket states after CJ/T 315-2009 case handling and 12345 practice (DOMAIN.md). */
export const TICKET_STATES = [
  'reported',
  'accepted',
  'rejected',
  'dispatched',
  'signed',
  'in_progress',
  'reported_back',
  'verifying',
  'closed',
  'evaluated',
] as const;
export type TicketState = (typeof TICKET_STATES)[number];

/** The states a ticket's work is over in (the one list: queries use it as an array, checks as a set). */
export const FINISHED_STATE_LIST = [
  'closed',
  'evaluated',
  'rejected',
] as const satisfies readonly TicketState[];
export const FINISHED_STATES: ReadonlySet<TicketState> = new Set(FINISHED_STATE_LIST);
export const isOpen = (s: TicketState) => !FINISHED_STATES.has(s);
/** Nobody has started on the ticket yet: a rule may close it when its cause goes away by itself. */
export const UNHANDLED_STATES: ReadonlySet<TicketState> = new Set(['reported', 'accepted', 'dispatched']);

export const TICKET_ACTIONS = [
  'accept',
  'reject',
  'dispatch',
  'return',
  'sign',
  'start',
  'report-back',
  'verify',
  'rework',
  'close',
  'rate',
  'escalate',
  'extend',
  'park',
  'unpark',
  'supervise',
  'remind',
  'note',
] as const;
export type TicketAction = (typeof TICKET_ACTIONS)[number];

interface Transition {
  /** states the action is allowed from; 'open' = any unfinished state, 'any' = every state */
  from: readonly TicketState[] | 'open' | 'any';
  /** the state after the action; absent = unchanged */
  to?: TicketState;
  permission: Permission;
}

/** The lifecycle as data: which action, from which states, to which state, for which roles. */
export const LIFECYCLE: Record<TicketAction, Transition> = {
  accept: { from: ['reported'], to: 'accepted', permission: 'ticket:coordinate' },
  reject: { from: ['reported'], to: 'rejected', permission: 'ticket:coordinate' },
  dispatch: { from: ['accepted'], to: 'dispatched', permission: 'ticket:coordinate' },
  return: { from: ['dispatched'], to: 'accepted', permission: 'ticket:handle' },
  sign: { from: ['dispatched'], to: 'signed', permission: 'ticket:handle' },
  start: { from: ['signed'], to: 'in_progress', permission: 'ticket:handle' },
  'report-back': { from: ['signed', 'in_progress'], to: 'reported_back', permission: 'ticket:handle' },
  verify: { from: ['reported_back'], to: 'verifying', permission: 'ticket:verify' },
  rework: { from: ['verifying'], to: 'in_progress', permission: 'ticket:verify' },
  close: { from: ['verifying'], to: 'closed', permission: 'ticket:verify' },
  rate: { from: ['closed'], to: 'evaluated', permission: 'ticket:rate' },
  escalate: { from: 'open', permission: 'ticket:escalate' },
  extend: { from: 'open', permission: 'ticket:supervise' },
  park: { from: 'open', permission: 'ticket:supervise' },
  unpark: { from: 'open', permission: 'ticket:supervise' },
  supervise: { from: 'open', permission: 'ticket:supervise' },
  remind: { from: 'open', permission: 'ticket:supervise' },
  note: { from: 'any', permission: 'ticket:note' },
};

export function allowedFrom(action: TicketAction, state: TicketState): boolean {
  const { from } = LIFECYCLE[action];
  if (from === 'any') return true;
  if (from === 'open') return isOpen(state);
  return from.includes(state);
}

/** After an escalation the new level's handler must sign for the work again. */
export function stateAfterEscalation(state: TicketState): TicketState {
  return ['signed', 'in_progress', 'reported_back', 'verifying'].includes(state) ? 'dispatched' : state;
}

export const LEVEL_NAMES = { 1: 'micro-grid', 2: 'grid', 3: 'street', 4: 'district department' } as const;

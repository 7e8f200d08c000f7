import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import {
  ActionBody,
  ActionParams,
  ManualTicketBody,
  TicketDetail,
  TicketListQuery,
  TicketStats,
  TicketView,
} from '../../tickets/ticket-schemas.ts';
import type { TicketService } from '../../tickets/ticket-service.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['tickets'];

export const ticketRoutes: FastifyPluginAsyncTypebox<{ tickets: TicketService }> = async (
  app,
  { tickets },
) => {
  app.get(
    '/tickets',
    {
      schema: {
        tags,
        summary: 'Tickets in your jurisdiction, newest first',
        querystring: TicketListQuery,
        response: {
          200: Type.Object({ total: Type.Integer(), items: Type.Array(TicketView) }),
          ...errorResponses,
        },
      },
    },
    async (req) => tickets.list(req.principal, req.query),
  );
  app.post(
    '/tickets',
    {
      schema: {
        tags,
        summary: 'Raise a ticket by hand (a patrol finding, a hotline call)',
        body: ManualTicketBody,
        response: { 201: TicketView, ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(await tickets.create(req.principal, req.body)),
  );
  app.get(
    '/tickets/:id',
    {
      schema: {
        tags,
        summary: 'One ticket with its timeline and linked events and alerts',
        params: IdParams,
        response: { 200: TicketDetail, ...errorResponses },
      },
    },
    async (req) => tickets.detail(req.principal, req.params.id),
  );
  app.post(
    '/tickets/:id/:action',
    {
      schema: {
        tags,
        summary:
          'Act on a ticket: accept, reject, dispatch, return, sign, start, report-back, verify, rework, close, rate, escalate, extend, park, unpark, supervise, remind, note',
        description:
          'Each action is allowed only to its roles, within jurisdiction, and from the states where it makes sense (409 GH_ERR_INVALID_TRANSITION otherwise).',
        params: ActionParams,
        body: Type.Optional(ActionBody),
        response: { 200: TicketView, ...errorResponses },
      },
    },
    async (req) => tickets.act(req.principal, req.params.id, req.params.action, req.body ?? {}),
  );
  app.get(
    '/stats/tickets',
    {
      schema: {
        tags: ['stats'],
        summary: 'Closure, on-time, rework and satisfaction rates and mean times, per grid and level',
        querystring: Type.Object({
          grid: Type.Optional(Type.String()),
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
        }),
        response: { 200: TicketStats, ...errorResponses },
      },
    },
    async (req) => tickets.stats(req.principal, req.query),
  );
};

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotificationView, NotifyBody, type NotifyService } from '../../alerts/notify-service.ts';
import { errorResponses, IdParams } from '../schemas.ts';

const tags = ['alerts'];

export const notifyRoutes: FastifyPluginAsyncTypebox<{ notify: NotifyService }> = async (app, { notify }) => {
  app.post(
    '/notify',
    {
      schema: {
        tags,
        summary:
          'Send a message through the hub’s channels: a webhook / WeCom / DingTalk / Feishu target, or a person over MQTT',
        description:
          'For flows and duty staff (admin, street duty, grid staff) within their jurisdiction. Delivery is asynchronous with the alerts’ retries; GET /notify/{id} shows every attempt.',
        body: NotifyBody,
        response: { 202: NotificationView, ...errorResponses },
      },
    },
    async (req, reply) => reply.code(202).send(await notify.send(req.principal, req.body)),
  );
  app.get(
    '/notify/:id',
    {
      schema: {
        tags,
        summary: 'One notification with its delivery log',
        params: IdParams,
        response: { 200: NotificationView, ...errorResponses },
      },
    },
    async (req) => notify.detail(req.principal, req.params.id),
  );
};

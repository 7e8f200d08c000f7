import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { errorResponses } from '../api/schemas.ts';
import { DeviceWithSecret } from '../devices/device-schemas.ts';
import {
  CreateIntegrationBody,
  IntegrationParams,
  IntegrationView,
  IntegrationWithSecret,
  RegisterUnmatchedBody,
  UnmatchedParams,
  UnmatchedView,
  UpdateIntegrationBody,
} from './integration-schemas.ts';
import type { IntegrationService } from './integration-service.ts';

const tags = ['integrations'];

/** The base URL a platform reaches the hub at (for the push URL shown on create). */
function baseUrl(req: FastifyRequest, publicUrl: () => string): string {
  return publicUrl() || `${req.protocol}://${req.host}`;
}

/** Integrations as data (admins), their unmatched devices (installers register them from there). */
export const integrationRoutes: FastifyPluginAsyncTypebox<{
  integrations: IntegrationService;
  publicUrl: () => string;
}> = async (app, { integrations, publicUrl }) => {
  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Register an integration (admins); the push token is shown only in this answer',
        body: CreateIntegrationBody,
        response: { 201: IntegrationWithSecret, ...errorResponses },
      },
    },
    async (req, reply) =>
      reply.code(201).send(await integrations.create(req.principal, req.body, baseUrl(req, publicUrl))),
  );
  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'Integrations with their connection state and message counts (never their secrets)',
        response: { 200: Type.Array(IntegrationView), ...errorResponses },
      },
    },
    async (req) => integrations.all(req.principal),
  );
  app.get(
    '/:id',
    {
      schema: {
        tags,
        summary: 'One integration',
        params: IntegrationParams,
        response: { 200: IntegrationView, ...errorResponses },
      },
    },
    async (req) => integrations.get(req.principal, req.params.id),
  );
  app.put(
    '/:id',
    {
      schema: {
        tags,
        summary:
          'Change an integration (admins): name, models, enabled, source allow-list, ChirpStack settings',
        params: IntegrationParams,
        body: UpdateIntegrationBody,
        response: { 200: IntegrationView, ...errorResponses },
      },
    },
    async (req) => integrations.update(req.principal, req.params.id, req.body),
  );
  app.post(
    '/:id/rotate-token',
    {
      schema: {
        tags,
        summary: 'A new push token (admins); the old one stops working at once',
        params: IntegrationParams,
        response: { 200: IntegrationWithSecret, ...errorResponses },
      },
    },
    async (req) => integrations.rotateToken(req.principal, req.params.id, baseUrl(req, publicUrl)),
  );
  app.delete(
    '/:id',
    {
      schema: {
        tags,
        summary: 'Remove an integration (admins); its push URL answers 404 from now on',
        params: IntegrationParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await integrations.remove(req.principal, req.params.id);
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/:id/unmatched',
    {
      schema: {
        tags,
        summary: 'Devices the platform reported that no registered device matches (newest first)',
        params: IntegrationParams,
        response: { 200: Type.Array(UnmatchedView), ...errorResponses },
      },
    },
    async (req) => integrations.unmatched(req.principal, req.params.id),
  );
  app.post(
    '/:id/unmatched/:identity/register',
    {
      schema: {
        tags,
        summary: 'Register an unmatched device with the identity the platform reported (installers, admins)',
        params: UnmatchedParams,
        body: RegisterUnmatchedBody,
        response: { 201: DeviceWithSecret, ...errorResponses },
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(
          await integrations.registerUnmatched(req.principal, req.params.id, req.params.identity, req.body),
        ),
  );
  app.delete(
    '/:id/unmatched/:identity',
    {
      schema: {
        tags,
        summary: 'Dismiss an unmatched entry (admins); it comes back if the platform reports it again',
        params: UnmatchedParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (req, reply) => {
      await integrations.dismissUnmatched(req.principal, req.params.id, req.params.identity);
      return reply.code(204).send(null);
    },
  );
};

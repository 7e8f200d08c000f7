import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** Where `npm run build` puts the console (dashboards/, Vite). */
export const CONSOLE_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../dashboards/dist',
);

// The console loads nothing from elsewhere (no CDN); ECharts sets inline styles on its elements.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/**
 * The web console as static files at `/` (hash routes, so no server-side fallback is needed). When
 * it was not built, `/` says how to build it instead of failing silently.
 */
export const consoleRoutes: FastifyPluginAsync = async (app) => {
  if (!existsSync(path.join(CONSOLE_DIR, 'index.html'))) {
    app.get('/', { schema: { hide: true } }, async (_req, reply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The console is not built: run `npm run build` (npm start builds it when missing).\n'),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: CONSOLE_DIR,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    setHeaders(res, file) {
      res.setHeader('x-content-type-options', 'nosniff');
      if (file.endsWith('.html')) {
        res.setHeader('content-security-policy', CSP);
        res.setHeader('cache-control', 'no-cache');
        res.setHeader('referrer-policy', 'same-origin');
      } else if (file.includes(`${path.sep}assets${path.sep}`)) {
        res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      }
    },
  });
};

/**
 * Typed calls to the hub's API, from the types generated out of its OpenAPI document
 * (clients/api.gen.ts, `npm run generate`). The console and the simulator build their requests
 * and read their replies through these types, so a route whose schema changes fails their type
 * check rather than their users. Paths are the API's own templates, relative to /api/v1:
 * `request('get', '/tickets/{id}', { params: { id } })`.
 *
 * No runtime imports: the console bundles this file.
 */
import type { paths } from './api.gen.ts';

const PREFIX = '/api/v1';
type Prefixed = typeof PREFIX;

/** Every route under /api/v1, keyed by its path template without the prefix. */
export type ApiPaths = {
  [P in keyof paths as P extends `${Prefixed}${infer R}` ? R : never]: paths[P];
};
export type ApiPath = keyof ApiPaths;
export type Method = 'get' | 'post' | 'put' | 'delete';

type Operation<P extends ApiPath, M extends Method> = ApiPaths[P][M] extends infer O
  ? O extends { responses: unknown }
    ? O
    : never
  : never;

/** The paths that answer a method. */
export type PathsFor<M extends Method> = {
  [P in ApiPath]: Operation<P, M> extends never ? never : P;
}[ApiPath];

type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : null;

/** The success reply of a route (200, 201 or 204). */
export type Reply<P extends ApiPath, M extends Method> = Operation<P, M>['responses'] extends infer R
  ? R extends { 200: infer OK }
    ? JsonOf<OK>
    : R extends { 201: infer Created }
      ? JsonOf<Created>
      : null
  : never;

type Parameters<P extends ApiPath, M extends Method> =
  Operation<P, M> extends { parameters: infer X } ? X : never;
export type PathParams<P extends ApiPath, M extends Method> =
  Parameters<P, M> extends { path: infer X } ? X : never;
export type Query<P extends ApiPath, M extends Method> =
  Parameters<P, M> extends { query?: infer X } ? X : never;
export type Body<P extends ApiPath, M extends Method> =
  Operation<P, M> extends {
    requestBody?: { content: infer C };
  }
    ? C extends { 'application/json': infer J }
      ? J
      : C[keyof C]
    : never;

/** What a call may carry: path parameters, query and body, each as its route declares them. */
export type RequestParts<P extends ApiPath, M extends Method> = {
  params?: PathParams<P, M>;
  query?: Partial<Record<keyof NonNullable<Query<P, M>>, string | number | boolean | undefined>>;
  body?: Body<P, M>;
};

/** `/api/v1/tickets/T-1?open=true` from `/tickets/{id}`, `{ id: 'T-1' }` and `{ open: true }`. */
export function apiUrl(path: string, params?: unknown, query?: unknown): string {
  const filled = path.replace(/\{(\w+)\}/g, (_, k: string) => {
    const v = (params as Record<string, unknown> | undefined)?.[k];
    if (v === undefined || v === null) throw new Error(`${path} needs ${k}`);
    return encodeURIComponent(String(v));
  });
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `${PREFIX}${filled}${qs ? `?${qs}` : ''}`;
}

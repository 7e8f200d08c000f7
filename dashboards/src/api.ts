/**
 * The hub's API as the console uses it: same-origin session cookie, CSRF token on every change.
 * Every call is typed from the served OpenAPI document (clients/api.gen.ts through clients/api.ts):
 * a route whose response schema changes fails `npm run typecheck` here.
 */
import { apiUrl, type Method, type PathsFor, type Reply, type RequestParts } from '../../clients/api.ts';

export type { Reply } from '../../clients/api.ts';

/** The signed-in person, as POST /auth/login answers. */
export type Me = Reply<'/auth/login', 'post'>['me'];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf = '';
let onUnauthenticated: () => void = () => {};

export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

/** A call to a route of the API: path parameters, query and body typed as the route declares them. */
export async function request<M extends Method, P extends PathsFor<M>>(
  method: M,
  path: P,
  parts: RequestParts<P, M> = {},
  contentType = 'application/json',
): Promise<Reply<P, M>> {
  const body = parts.body === undefined && method !== 'get' && method !== 'delete' ? {} : parts.body;
  return send(method.toUpperCase(), apiUrl(path, parts.params, parts.query), body, contentType) as Promise<
    Reply<P, M>
  >;
}

async function send(method: string, url: string, body: unknown, contentType: string): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = contentType;
  const res = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null;
  if (!res.ok) {
    const e = (json as { error?: { code: string; message: string } } | null)?.error;
    if (res.status === 401 && !url.endsWith('/auth/login')) onUnauthenticated();
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? text.slice(0, 200));
  }
  return json;
}

export async function login(username: string, password: string): Promise<Me> {
  const s = await request('post', '/auth/login', { body: { username, password } });
  csrf = s.csrf;
  return s.me;
}

/** The session after a reload, or null when signed out (the hub answers 204: no error to log). */
export async function restore(): Promise<Me | null> {
  try {
    const s = await request('get', '/auth/session');
    if (!s) return null;
    csrf = s.csrf;
    return s.me;
  } catch {
    return null;
  }
}

/** Is the session still there? When it ended (signed out elsewhere, expired) the console signs out. */
export async function checkSession(): Promise<void> {
  try {
    if (!(await request('get', '/auth/session'))) onUnauthenticated();
  } catch {
    /* the network is down: the caller reconnects */
  }
}

export async function logout(): Promise<void> {
  await request('post', '/auth/logout').catch(() => undefined);
  csrf = '';
}

/** What the signed-in person's roles allow, as the hub listed it at sign-in (it checks every call again). */
export const can = (me: Me, permission: string) => me.permissions.includes(permission);

/** An error as the console shows it: the hub's stable code and its message. */
export const errorText = (err: unknown) =>
  err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);

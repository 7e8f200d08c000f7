/** The hub's API as the console uses it: same-origin session cookie, CSRF token on every change. */

export interface Me {
  personId: string;
  name: string;
  roles: string[];
  jurisdiction: unknown;
  permissions: string[];
}

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

export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = contentType;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null;
  if (!res.ok) {
    const e = (json as { error?: { code: string; message: string } } | null)?.error;
    if (res.status === 401 && path !== '/auth/login') onUnauthenticated();
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? text.slice(0, 200));
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});

export async function login(username: string, password: string): Promise<Me> {
  const s = await api<{ me: Me; csrf: string }>('POST', '/auth/login', { username, password });
  csrf = s.csrf;
  return s.me;
}

/** The session after a reload, or null when signed out (the hub answers 204: no error to log). */
export async function restore(): Promise<Me | null> {
  try {
    const s = await api<{ me: Me; csrf: string } | null>('GET', '/auth/session');
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
    if (!(await api<unknown>('GET', '/auth/session'))) onUnauthenticated();
  } catch {
    /* the network is down: the caller reconnects */
  }
}

export async function logout(): Promise<void> {
  await api('POST', '/auth/logout').catch(() => undefined);
  csrf = '';
}

/** What the signed-in person's roles allow, as the hub listed it at sign-in (it checks every call again). */
export const can = (me: Me, permission: string) => me.permissions.includes(permission);

/** An error as the console shows it: the hub's stable code and its message. */
export const errorText = (err: unknown) =>
  err instanceof ApiError ? `${err.code}: ${err.message}` : String(err);

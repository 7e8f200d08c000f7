/**
 * The simulator talks to the hub only through its public API and MQTT, like real installers and
 * devices. Replies are typed by the caller from the generated API types (`Reply<path, method>` of
 * clients/api.ts), so a route whose schema changes fails the simulator's type check.
 */
export class HubApi {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': contentType }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed =
      text && res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as unknown) : text;
    if (!res.ok)
      throw new Error(
        `${method} ${path}: ${res.status} ${typeof parsed === 'string' ? parsed : JSON.stringify(parsed)}`,
      );
    return parsed as T;
  }
}

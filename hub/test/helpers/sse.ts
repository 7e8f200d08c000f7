/** A console's alert stream (GET /api/v1/alerts/stream) read frame by frame, every frame kept. */
export interface SseFrame {
  id: number;
  action: string;
  alertId: string;
}

export interface SseReader {
  frames: SseFrame[];
  close(): Promise<void>;
}

export async function openAlertStream(
  baseUrl: string,
  token: string,
  lastEventId?: number,
): Promise<SseReader> {
  const res = await fetch(`${baseUrl}/api/v1/alerts/stream`, {
    headers: {
      authorization: `Bearer ${token}`,
      ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }),
    },
  });
  if (res.status !== 200) throw new Error(`alert stream: ${res.status}`);
  const frames: SseFrame[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let buffer = '';
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += Buffer.from(value as Uint8Array).toString('utf8');
      for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
        const lines = buffer.slice(0, i).split('\n');
        buffer = buffer.slice(i + 2);
        const id = lines.find((l) => l.startsWith('id: '));
        const data = lines.find((l) => l.startsWith('data: '));
        if (!id || !data) continue;
        const body = JSON.parse(data.slice(6)) as { action: string; alert: { id: string } };
        frames.push({ id: Number(id.slice(4)), action: body.action, alertId: body.alert.id });
      }
    }
  })();
  return { frames, close: () => reader.cancel() };
}

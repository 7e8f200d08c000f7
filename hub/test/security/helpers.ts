import { connect } from 'node:net';
import type { MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait.ts';

/** A live SSE stream: everything it sent, and whether the server ended it. */
export interface SseStream {
  status: number;
  text(): string;
  ended(): boolean;
  close(): Promise<void>;
}

export async function openSse(url: string, headers: Record<string, string>): Promise<SseStream> {
  const res = await fetch(url, { headers });
  let text = '';
  let ended = false;
  const reader = res.body?.getReader();
  if (res.status === 200 && reader) {
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += Buffer.from(value).toString('utf8');
        }
      } catch {
        // aborted by close()
      }
      ended = true;
    })();
  } else {
    text = await res.text();
    ended = true;
  }
  if (res.status === 200) await waitFor(() => text.includes('retry:'), { what: 'the stream opened' });
  return {
    status: res.status,
    text: () => text,
    ended: () => ended,
    close: async () => {
      await reader?.cancel().catch(() => undefined);
    },
  };
}

/** Messages an MQTT client received, and whether its connection was closed. */
export function watch(client: MqttClient): {
  messages: { topic: string; body: unknown }[];
  closed: () => boolean;
} {
  const messages: { topic: string; body: unknown }[] = [];
  let closed = false;
  client.on('message', (topic, payload) => {
    let body: unknown = payload.toString();
    try {
      body = JSON.parse(payload.toString());
    } catch {
      // not JSON: keep the text
    }
    messages.push({ topic, body });
  });
  client.on('close', () => {
    closed = true;
  });
  return { messages, closed: () => closed };
}

function mqttString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/**
 * An MQTT 3.1.1 CONNECT written by hand, for what client libraries refuse to send (an empty client
 * id with cleanSession=0). Resolves with the CONNACK return code and whether the server then closed.
 */
export function rawConnect(
  port: number,
  o: { clientId: string; username: string; password: string; clean: boolean },
): Promise<{ returnCode: number; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const flags = 0x80 | 0x40 | (o.clean ? 0x02 : 0);
    const body = Buffer.concat([
      mqttString('MQTT'),
      Buffer.from([4, flags, 0, 60]),
      mqttString(o.clientId),
      mqttString(o.username),
      mqttString(o.password),
    ]);
    if (body.length > 127) return reject(new Error('raw CONNECT too long for a one-byte length'));
    const socket = connect(port, '127.0.0.1');
    let connack: number | undefined;
    let closed = false;
    socket.on('data', (d: Buffer) => {
      if (d[0] === 0x20 && d[1] === 2) connack = d[3];
    });
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', () => undefined);
    socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    waitFor(() => connack !== undefined && closed, { timeoutMs: 5000, what: 'CONNACK and close' })
      .then(() => resolve({ returnCode: connack as number, closedByServer: true }))
      .catch(() => {
        socket.destroy();
        resolve({ returnCode: connack ?? -1, closedByServer: false });
      });
  });
}

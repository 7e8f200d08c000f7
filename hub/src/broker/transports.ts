import { readFileSync } from 'node:fs';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { type AddressInfo, createServer, type Server as NetServer } from 'node:net';
import { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Aedes, Client } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Config } from '../config/schema.ts';
import { FrameLimit, FrameTooLargeError } from './frame-limit.ts';

/**
 * mqtt-packet writes one packet as four or five chunks (header, length, topic, id, payload) between
 * cork() and uncork(); the Duplex.from wrapper has no `_writev`, so it handed them to the socket one
 * by one, and an uncorked socket makes a system call of each — five per delivery, which made socket
 * writes the largest cost of fanning events out to staff subscribers. Here a packet goes to the
 * socket as one writev, and the first packet of a turn of the event loop goes out at once while the
 * rest of that turn's packets for the same client (a batch of hub messages for a dashboard, the
 * PUBACKs of one group commit) gather in the corked socket and go out together at the next
 * setImmediate: one system call per client per turn instead of one per message.
 */
function writeAsOne(conn: Duplex, socket: Duplex): void {
  /** a write went out in this turn of the event loop */
  let burst = false;
  /** the socket is corked until the next turn (writes of a burst gather there) */
  let held = false;
  (conn as Duplex & { _writev: Duplex['_writev'] })._writev = (chunks, callback) => {
    if (!held) socket.cork();
    let ok = true;
    for (const { chunk, encoding } of chunks) ok = socket.write(chunk, encoding);
    if (!burst) {
      socket.uncork();
      burst = true;
      setImmediate(() => {
        burst = false;
        if (held) {
          held = false;
          socket.uncork();
        }
      });
    } else held = true;
    if (ok) callback();
    else socket.once('drain', () => callback());
  };
}

/**
 * The broker's transports: MQTT over TCP, over TLS when a certificate is configured, and over
 * WebSocket on the HTTP server's upgrade path — every one through a frame-size guard in front of
 * aedes' parser, so an oversized frame is cut before it is buffered.
 */
export class Transports {
  private tcp: NetServer | undefined;
  private tls: TlsServer | undefined;
  private wss: WebSocketServer | undefined;
  private httpServer: HttpServer | undefined;
  /** the transport socket under each connection aedes sees, for the slow-consumer sweep */
  private readonly sockets = new WeakMap<object, Duplex>();
  private slowSweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: Config['mqtt'],
    private readonly aedes: () => Aedes | undefined,
    /** a frame over the limit (counted and logged by the broker) */
    private readonly tooLarge: (err: FrameTooLargeError) => void,
  ) {}

  /** A frame this much larger than the payload limit is cut at the transport, before it is buffered. */
  get frameLimit(): number {
    return this.config.maxPayloadBytes * 4 + 1024;
  }

  get tcpListening(): boolean {
    return this.tcp?.listening === true;
  }

  get port(): number {
    return (this.tcp?.address() as AddressInfo | null)?.port ?? 0;
  }

  get tlsPort(): number | undefined {
    return (this.tls?.address() as AddressInfo | null)?.port;
  }

  /**
   * A client that does not read what the hub sends it (a phone on a dead link, a stuck dashboard)
   * would make the hub buffer without limit: once a second, a client with more than `maxBytes`
   * unread is reported and disconnected. A persistent session keeps its QoS 1 queue until it is back.
   */
  sweepSlowConsumers(maxBytes: number, slow: (client: Client, buffered: number) => void): void {
    clearInterval(this.slowSweep);
    this.slowSweep = setInterval(() => {
      const clients = (this.aedes() as unknown as { clients?: Record<string, Client> } | undefined)?.clients;
      for (const client of Object.values(clients ?? {})) {
        const conn = (client as unknown as { conn: object }).conn;
        const buffered = this.sockets.get(conn)?.writableLength ?? 0;
        if (buffered <= maxBytes) continue;
        slow(client, buffered);
        client.close();
      }
    }, 1000);
    this.slowSweep.unref();
  }

  /** Every transport ends here: a frame-size guard in front of aedes' parser. */
  accept(socket: Duplex, req?: IncomingMessage): void {
    const aedes = this.aedes();
    if (!aedes) {
      socket.destroy();
      return;
    }
    // TCP_NODELAY on every socket (servers are created with noDelay; for WebSocket `ws` sets it on the
    // upgraded socket itself, and this stream has no setNoDelay).
    (socket as Duplex & { setNoDelay?: (noDelay: boolean) => unknown }).setNoDelay?.(true);
    const limit = new FrameLimit(this.frameLimit);
    const conn = Duplex.from({ readable: limit, writable: socket });
    writeAsOne(conn, socket);
    this.sockets.set(conn, socket);
    limit.on('error', (err) => {
      if (err instanceof FrameTooLargeError) {
        this.tooLarge(err);
      }
      socket.destroy();
      conn.destroy();
    });
    socket.on('error', () => conn.destroy());
    // A client that publishes and hangs up at once: what it sent is still read and processed (its
    // messages may wait for a group commit); only then does the connection end. Hence end, not destroy.
    socket.on('close', () => {
      if (!limit.writableEnded) limit.end();
    });
    conn.on('close', () => socket.destroy());
    socket.pipe(limit);
    aedes.handle(conn, req);
  }

  async listen(): Promise<void> {
    const { host, port, tlsCertFile, tlsKeyFile, tlsPort } = this.config;
    // No Nagle: a PUBACK or an alert must not wait ~40 ms for the peer's delayed ACK of the last write.
    this.tcp = createServer({ noDelay: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      this.tcp?.once('error', reject);
      this.tcp?.listen(port, host, () => resolve());
    });
    if (tlsCertFile && tlsKeyFile) {
      this.tls = createTlsServer(
        { cert: readFileSync(tlsCertFile), key: readFileSync(tlsKeyFile), noDelay: true },
        (socket) => this.accept(socket),
      );
      await new Promise<void>((resolve, reject) => {
        this.tls?.once('error', reject);
        this.tls?.listen(tlsPort, host, () => resolve());
      });
    }
  }

  /** MQTT over WebSocket on the HTTP server's upgrade path. */
  attachWebSocket(server: HttpServer): void {
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.frameLimit });
    this.wss = wss;
    this.httpServer = server;
    server.on('upgrade', this.onUpgrade);
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== this.config.websocketPath || !this.wss) {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(createWebSocketStream(ws), req));
  };

  /** Stop taking connections; settles when the TCP and TLS servers have closed. */
  close(): Promise<void> {
    clearInterval(this.slowSweep);
    this.httpServer?.off('upgrade', this.onUpgrade);
    this.wss?.close();
    const closeServer = (s: NetServer | TlsServer | undefined) =>
      new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
    const closed = Promise.all([closeServer(this.tcp), closeServer(this.tls)]).then(() => undefined);
    this.tcp = undefined;
    this.tls = undefined;
    return closed;
  }
}

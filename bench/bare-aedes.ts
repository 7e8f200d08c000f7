/**
 * Bare Aedes, no hooks: the baseline broker of the benchmark. Prints its port and serves until killed.
 * TCP_NODELAY on every accepted socket, as the hub does, so latency compares like with like. Each
 * line on stdin is answered with `PUBLISHED <n>`: the client publishes it has taken so far, so the
 * bench can time ingest with nobody subscribed, as for the hub.
 */

import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const aedes = new Aedes();
await aedes.listen();
let published = 0;
aedes.on('publish', (_packet, client) => {
  if (client) published++;
});
process.stdin.on('data', () => process.stdout.write(`PUBLISHED ${published}\n`));
const server = createServer({ noDelay: true }, aedes.handle);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`);
});

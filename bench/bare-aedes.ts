/**
 * Bare Aedes, no hooks: the baseline broker of the benchmark. Prints its port and serves until killed.
 * TCP_NODELAY on every accepted socket, as the hub does, so latency compares like with like.
 */

import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const aedes = new Aedes();
await aedes.listen();
const server = createServer({ noDelay: true }, aedes.handle);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`);
});

import { createRequire } from 'node:module';
import { waitFor } from '../../../hub/test/helpers/wait.ts';

const require = createRequire(import.meta.url);

export interface NodeStatus {
  fill?: string;
  shape?: string;
  text?: string;
}

/** A running node as the test helper exposes it: receive(), events and the spied calls. */
export interface TestNode {
  id: string;
  receive(msg: object): void;
  on(event: string, listener: (arg: never) => void): void;
}

export interface Helper {
  init(runtimePath: string, settings?: object): void;
  load(nodes: unknown[], flow: object[], credentials?: object): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): TestNode;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
}

/** node-red-node-test-helper, initialised with the project's Node-RED. */
export function nodeRedHelper(): Helper {
  const helper = require('node-red-node-test-helper') as Helper;
  helper.init(require.resolve('node-red'));
  return helper;
}

export const GRIDHUB_NODE_TYPES = [
  'gridhub-hub',
  'gridhub-event',
  'gridhub-alert',
  'gridhub-ticket',
  'gridhub-policy',
  'gridhub-notify',
  'gridhub-api',
] as const;

/** The node modules from flows/nodes, as Node-RED loads them. */
export function gridhubNodes(): unknown[] {
  return GRIDHUB_NODE_TYPES.map((t) => require(`../../nodes/${t}.js`));
}

/** Everything a node did while the test watched: messages out, status changes, errors. */
export class Watch {
  readonly out: Record<string, unknown>[] = [];
  readonly statuses: NodeStatus[] = [];
  readonly errors: unknown[] = [];

  constructor(node: TestNode, output?: TestNode) {
    node.on('call:status', ((call: { args: [NodeStatus] }) => this.statuses.push(call.args[0])) as never);
    node.on('call:error', ((call: { args: unknown[] }) => this.errors.push(call.args[0])) as never);
    output?.on('input', ((msg: Record<string, unknown>) => this.out.push(msg)) as never);
  }

  status(predicate: (s: NodeStatus) => boolean, what: string): Promise<NodeStatus> {
    return waitFor(() => this.statuses.find(predicate), { what: `status ${what}` });
  }

  output(count = 1): Promise<Record<string, unknown>> {
    return waitFor(() => this.out[count - 1], { what: `output #${count}` });
  }
}

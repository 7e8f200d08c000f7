'use strict';
// One connection per gridhub-hub config node: REST calls with the flow's bearer token, and one MQTT
// session (user name = person id, password = token) shared by every node that listens.
const mqtt = require('mqtt');

class HubError extends Error {
  constructor(code, status, message) {
    super(message ? `${code}: ${message}` : code);
    this.code = code;
    this.status = status;
  }
}

/** Severity of a normalised device event, for filtering only (the hub's rules decide alerts). */
function eventSeverity(e) {
  const t = e.event?.type;
  if (t === 'press' || t === 'smoke.alarm') return 'critical';
  if (e.deviceType === 'elevator-monitor' && t === 'fault')
    return ['11', 'overspeed', 'door_open_running'].includes(e.event.code) ? 'critical' : 'major';
  if (t === 'leak' || t === 'level.alarm' || t === 'fault') return 'major';
  if (t === 'level.warning' || t === 'tamper' || t === 'battery.low' || t === 'end_of_life') return 'minor';
  return 'warning';
}
const RANK = { warning: 0, minor: 1, major: 2, critical: 3 };

/** HH:MM of an epoch-ms time in a time zone. */
function clock(ms, timeZone) {
  return new Date(ms).toLocaleTimeString('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  });
}

/** Is HH:MM within [from, to)? A window past midnight (22:00–07:00) wraps. */
function inWindow(hm, from, to) {
  if (!from || !to) return true;
  return from <= to ? hm >= from && hm < to : hm >= from || hm < to;
}

class HubClient {
  constructor({ url, mqttUrl, user, token, name }) {
    this.url = (url || '').replace(/\/+$/, '');
    this.mqttUrl = mqttUrl;
    this.user = user;
    this.token = token;
    this.name = name || 'node-red';
    this.subscriptions = new Map(); // topic filter → Set(handler)
    this.stateListeners = new Set();
    this.state = 'idle';
    this.client = undefined;
  }

  get configured() {
    return Boolean(this.url && this.user && this.token);
  }

  /** Call the hub API; resolves with the JSON body, rejects with a HubError carrying the hub's code. */
  async request(method, path, body) {
    if (!this.configured)
      throw new HubError('GH_ERR_UNAUTHENTICATED', 0, 'the gridhub-hub node has no credentials');
    let res;
    try {
      res = await fetch(`${this.url}/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new HubError('GH_ERR_HUB_UNREACHABLE', 0, err.message);
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const e = json?.error ?? {};
      throw new HubError(e.code || `HTTP_${res.status}`, res.status, e.message || text.slice(0, 200));
    }
    return json;
  }

  onState(listener) {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  setState(state, detail) {
    this.state = state;
    for (const l of this.stateListeners) l(state, detail);
  }

  /** Subscribe to a hub topic; the MQTT session opens with the first subscriber. Returns an unsubscribe. */
  subscribe(filter, handler) {
    let set = this.subscriptions.get(filter);
    if (!set) {
      set = new Set();
      this.subscriptions.set(filter, set);
      this.client?.subscribe(filter, { qos: 1 });
    }
    set.add(handler);
    this.connect();
    return () => {
      set.delete(handler);
      if (set.size === 0) {
        this.subscriptions.delete(filter);
        this.client?.unsubscribe(filter);
      }
    };
  }

  connect() {
    if (this.client) return;
    if (!this.mqttUrl || !this.user || !this.token) {
      this.setState('unconfigured');
      return;
    }
    this.setState('connecting');
    const client = mqtt.connect(this.mqttUrl, {
      username: this.user,
      password: this.token,
      // the hub binds staff client ids to the person: `<person id>:<suffix>`
      clientId: `${this.user}:nr-${Math.random().toString(16).slice(2, 10)}`,
      protocolVersion: 4,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      clean: true,
    });
    this.client = client;
    client.on('connect', () => {
      this.setState('connected');
      for (const filter of this.subscriptions.keys()) client.subscribe(filter, { qos: 1 });
    });
    client.on('close', () => this.state === 'connected' && this.setState('disconnected'));
    client.on('error', (err) => this.setState('error', err.message));
    client.on('message', (topic, payload) => {
      let data;
      try {
        data = JSON.parse(payload.toString('utf8'));
      } catch {
        return;
      }
      for (const [filter, set] of this.subscriptions)
        if (matches(filter, topic)) for (const h of set) h(topic, data);
    });
  }

  async close() {
    const c = this.client;
    this.client = undefined;
    this.subscriptions.clear();
    this.stateListeners.clear();
    if (c) await c.endAsync(true);
  }
}

function matches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Show a hub connection state on a listening node. */
function showState(node, state, detail) {
  const map = {
    idle: { fill: 'grey', shape: 'ring', text: 'idle' },
    unconfigured: { fill: 'red', shape: 'ring', text: 'no credentials' },
    connecting: { fill: 'yellow', shape: 'ring', text: 'connecting' },
    connected: { fill: 'green', shape: 'dot', text: 'connected' },
    disconnected: { fill: 'red', shape: 'ring', text: 'disconnected' },
    error: { fill: 'red', shape: 'ring', text: detail ? `error: ${detail}`.slice(0, 60) : 'error' },
  };
  node.status(map[state] || map.idle);
}

/** The node's gridhub-hub config node, or undefined after showing that it is missing. */
function hubOf(RED, node, config) {
  const hub = RED.nodes.getNode(config.hub);
  if (!hub) node.status({ fill: 'red', shape: 'ring', text: 'no gridhub-hub' });
  return hub;
}

/** Refuse an input that lacks what the node needs: red status, and the error to Catch nodes. */
function refuse(node, done, statusText, message) {
  node.status({ fill: 'red', shape: 'dot', text: statusText });
  done(new Error(`${node.type}: ${message}`));
}

/** The shared action-node pattern: run, show ok/error status, send or report the error with its code. */
function runAction(node, msg, send, done, what, fn) {
  node.status({ fill: 'blue', shape: 'ring', text: `${what}…` });
  fn()
    .then((result) => {
      msg.payload = result;
      node.status({ fill: 'green', shape: 'dot', text: `${what}: ok` });
      send(msg);
      done();
    })
    .catch((err) => {
      msg.error = { code: err.code || 'GH_ERR_INTERNAL', status: err.status || 0, message: err.message };
      node.status({ fill: 'red', shape: 'dot', text: (err.code || err.message).slice(0, 60) });
      done(err);
    });
}

/** Comma or space separated list from a config field; empty → []. */
function list(value) {
  if (Array.isArray(value)) return value.filter(Boolean);
  return String(value || '')
    .split(/[\s,，]+/)
    .filter(Boolean);
}

module.exports = {
  HubClient,
  HubError,
  eventSeverity,
  RANK,
  clock,
  inWindow,
  matches,
  showState,
  runAction,
  list,
  hubOf,
  refuse,
};

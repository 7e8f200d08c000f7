'use strict';
const { hubOf, refuse, runAction } = require('./lib/hub-client.js');

/**
 * Read the policy value that applies at a scope (and where it comes from), set it — optionally for a
 * time window after which the hub itself restores the previous value — or remove an override.
 */
module.exports = (RED) => {
  function GridhubPolicyNode(config) {
    RED.nodes.createNode(this, config);
    const hub = hubOf(RED, this, config);
    if (!hub) return;
    this.on('input', (msg, send, done) => {
      const action = ['get', 'set', 'clear'].includes(msg.action) ? msg.action : config.action || 'get';
      const key = msg.key || config.key;
      const kind = msg.scope?.kind || config.scopeKind || 'global';
      const id = msg.scope?.id || config.scopeId || undefined;
      if (!key) {
        refuse(this, done, 'no policy key', 'no policy key');
        return;
      }
      const path = `/policies/${encodeURIComponent(key)}`;
      if (action === 'get') {
        const q = new URLSearchParams();
        if (kind === 'device') q.set('device', id);
        else if (kind === 'site') q.set('site', id);
        else if (kind === 'grid') q.set('grid', id);
        else if (kind === 'device-type') q.set('deviceType', id);
        runAction(this, msg, send, done, 'get', () => hub.client.request('GET', `${path}/resolve?${q}`));
        return;
      }
      const scope = { kind, id: kind === 'global' ? '*' : id };
      if (action === 'clear') {
        const q = new URLSearchParams(scope);
        runAction(this, msg, send, done, 'clear', () => hub.client.request('DELETE', `${path}?${q}`));
        return;
      }
      let value = msg.value !== undefined ? msg.value : config.value;
      if (msg.value === undefined && typeof value === 'string' && value !== '') {
        try {
          value = JSON.parse(value);
        } catch {
          /* a plain string value */
        }
      }
      const seconds =
        Number(msg.forSeconds) > 0
          ? Number(msg.forSeconds)
          : Number(config.forMinutes) > 0
            ? Number(config.forMinutes) * 60
            : undefined;
      const body = { scope, value, ...(seconds ? { forSeconds: seconds } : {}) };
      runAction(this, msg, send, done, seconds ? `set for ${Math.round(seconds / 60)} min` : 'set', () =>
        hub.client.request('PUT', path, body),
      );
    });
  }
  RED.nodes.registerType('gridhub-policy', GridhubPolicyNode);
};

'use strict';
const { hubOf, refuse, runAction } = require('./lib/hub-client.js');

/**
 * Send a message through the hub's channels — a webhook / WeCom / DingTalk / Feishu target by name
 * or id, or a person over MQTT — so delivery logging and retries stay in the hub.
 */
module.exports = (RED) => {
  function GridhubNotifyNode(config) {
    RED.nodes.createNode(this, config);
    const hub = hubOf(RED, this, config);
    if (!hub) return;
    this.on('input', (msg, send, done) => {
      const kind = msg.to?.kind || config.toKind || 'webhook';
      const target = msg.to?.target || msg.to?.id || config.target;
      const text = typeof msg.payload === 'string' ? msg.payload : msg.payload?.text;
      const title = msg.title || msg.payload?.title || config.title || (text || '').split('\n')[0];
      if (!target || !text) {
        if (!target) refuse(this, done, 'no target', 'no target');
        else refuse(this, done, 'no text', 'msg.payload has no text');
        return;
      }
      const body = {
        to: kind === 'person' ? { kind: 'person', id: target } : { kind: 'webhook', target },
        title: title.slice(0, 200),
        text,
        ...(msg.markdown ? { markdown: msg.markdown } : {}),
        ...(msg.data !== undefined ? { data: msg.data } : {}),
      };
      runAction(this, msg, send, done, `sent to ${target}`.slice(0, 40), () =>
        hub.client.request('POST', '/notify', body),
      );
    });
  }
  RED.nodes.registerType('gridhub-notify', GridhubNotifyNode);
};

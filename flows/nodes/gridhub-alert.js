'use strict';
const { contract, hubOf, list, RANK, refuse, runAction, showState } = require('./lib/hub-client.js');

const ACTIONS = { ack: 'ack', resolve: 'resolve', 'false-alarm': 'false-alarm' };

/**
 * Alerts as they change (raised, acknowledged, escalated, resolved …), filtered by change, cause and
 * severity; and, on input, acknowledge / resolve / mark a false alarm through the hub's API.
 */
module.exports = (RED) => {
  function GridhubAlertNode(config) {
    RED.nodes.createNode(this, config);
    const hub = hubOf(RED, this, config);
    if (!hub) return;
    const changes = list(config.changes);
    const causes = list(config.causes);
    const minRank = RANK[config.minSeverity] ?? 0;
    let offState = () => {};
    let off = () => {};
    if (config.watch !== false) {
      offState = hub.client.onState((s, d) => showState(this, s, d));
      off = hub.client.subscribe(contract.topics.hubAlert.filter, (topic, change) => {
        const a = change.alert;
        if (!a) return;
        if (changes.length && !changes.includes(change.action)) return;
        if (causes.length && !causes.includes(a.cause)) return;
        if (RANK[a.severity] < minRank) return;
        this.send({
          topic,
          action: change.action,
          alertId: a.id,
          payload: a,
          ticketUrl: a.ticketId ? `${hub.publicUrl}/#/tickets/${encodeURIComponent(a.ticketId)}` : null,
          alertUrl: `${hub.publicUrl}/#/alerts/${encodeURIComponent(a.id)}`,
        });
      });
    }
    this.on('input', (msg, send, done) => {
      const action = ACTIONS[msg.action] || ACTIONS[config.action] || 'ack';
      const id = msg.alertId || msg.payload?.alert?.id || msg.payload?.id;
      if (!id) {
        refuse(this, done, 'no alert id', 'msg.alertId is missing');
        return;
      }
      const reason = msg.reason || (typeof msg.payload === 'string' ? msg.payload : undefined);
      const body =
        action === 'ack'
          ? undefined
          : { reason: reason || (action === 'false-alarm' ? 'marked by a flow' : undefined) };
      runAction(this, msg, send, done, action, () =>
        hub.client.request('POST', `/alerts/${encodeURIComponent(id)}/${action}`, body),
      );
    });
    this.on('close', () => {
      off();
      offState();
    });
  }
  RED.nodes.registerType('gridhub-alert', GridhubAlertNode);
};

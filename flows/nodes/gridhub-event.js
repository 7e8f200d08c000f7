'use strict';
const {
  clock,
  contract,
  eventSeverity,
  hubOf,
  inWindow,
  list,
  RANK,
  showState,
} = require('./lib/hub-client.js');

/**
 * Input: normalised device events from the hub (only those in the flow user's jurisdiction), filtered
 * by device type, grid subtree, minimum severity, event kind and an optional time-of-day window
 * judged by when the event happened.
 */
module.exports = (RED) => {
  function GridhubEventNode(config) {
    RED.nodes.createNode(this, config);
    const hub = hubOf(RED, this, config);
    if (!hub) return;
    const types = list(config.deviceTypes);
    const kinds = list(config.kinds);
    const grid = (config.grid || '').trim();
    const minRank = RANK[config.minSeverity] ?? 0;
    const timeZone = config.timeZone || 'Asia/Shanghai';
    const offState = hub.client.onState((s, d) => showState(this, s, d));
    const off = hub.client.subscribe(contract.topics.hubEvent.filter, (topic, e) => {
      if (types.length && !types.includes(e.deviceType)) return;
      if (kinds.length && !kinds.includes(e.event?.type)) return;
      if (grid && !(e.gridNodeId === grid || (e.gridPath || '').split('/').includes(grid))) return;
      const severity = eventSeverity(e);
      if (RANK[severity] < minRank) return;
      const at = e.at ?? e.receivedAt;
      const hm = clock(at, timeZone);
      if (!inWindow(hm, config.from, config.to)) return;
      this.send({ topic, payload: e, severity, localTime: hm, deviceId: e.deviceId, siteId: e.siteId });
    });
    this.on('close', () => {
      off();
      offState();
    });
  }
  RED.nodes.registerType('gridhub-event', GridhubEventNode);
};

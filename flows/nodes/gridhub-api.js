'use strict';
const { hubOf, refuse, runAction } = require('./lib/hub-client.js');

/** Read from the hub's API (elevator health, statistics, series, tickets) with the flow's credentials. */
module.exports = (RED) => {
  function GridhubApiNode(config) {
    RED.nodes.createNode(this, config);
    const hub = hubOf(RED, this, config);
    if (!hub) return;
    this.on('input', (msg, send, done) => {
      const path = msg.path || config.path;
      if (!path?.startsWith('/')) {
        refuse(this, done, 'no path', 'the path must start with / (e.g. /elevators/health)');
        return;
      }
      runAction(this, msg, send, done, 'GET', () => hub.client.request('GET', path));
    });
  }
  RED.nodes.registerType('gridhub-api', GridhubApiNode);
};

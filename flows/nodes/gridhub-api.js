'use strict';
const { runAction } = require('./lib/hub-client.js');

/** Read from the hub's API (elevator health, statistics, series, tickets) with the flow's credentials. */
module.exports = (RED) => {
  function GridhubApiNode(config) {
    RED.nodes.createNode(this, config);
    const hub = RED.nodes.getNode(config.hub);
    if (!hub) {
      this.status({ fill: 'red', shape: 'ring', text: 'no gridhub-hub' });
      return;
    }
    this.on('input', (msg, send, done) => {
      const path = msg.path || config.path;
      if (!path?.startsWith('/')) {
        this.status({ fill: 'red', shape: 'dot', text: 'no path' });
        done(new Error('gridhub-api: the path must start with / (e.g. /elevators/health)'));
        return;
      }
      runAction(this, msg, send, done, 'GET', () => hub.client.request('GET', path));
    });
  }
  RED.nodes.registerType('gridhub-api', GridhubApiNode);
};

'use strict';
const { HubClient } = require('./lib/hub-client.js');

/**
 * Configuration node: where the hub is and whose staff credentials the flow uses. The credentials
 * live in Node-RED's encrypted credential store; empty fields fall back to the GRIDHUB_* variables
 * the hub passes to the Node-RED it supervises (the flow user's token is rotated on each start).
 */
module.exports = (RED) => {
  function GridhubHubNode(config) {
    RED.nodes.createNode(this, config);
    const creds = this.credentials || {};
    this.client = new HubClient({
      url: config.url || process.env.GRIDHUB_URL || 'http://127.0.0.1:8080',
      mqttUrl: config.mqttUrl || process.env.GRIDHUB_MQTT_URL || 'mqtt://127.0.0.1:1883',
      user: creds.user || process.env.GRIDHUB_FLOW_USER || '',
      token: creds.token || process.env.GRIDHUB_FLOW_TOKEN || '',
      name: config.name,
    });
    this.publicUrl = (process.env.GRIDHUB_PUBLIC_URL || this.client.url).replace(/\/+$/, '');
    this.on('close', (done) => {
      this.client.close().then(
        () => done(),
        () => done(),
      );
    });
  }
  RED.nodes.registerType('gridhub-hub', GridhubHubNode, {
    credentials: { user: { type: 'text' }, token: { type: 'password' } },
  });
};

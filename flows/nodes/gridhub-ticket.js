'use strict';
const { hubOf, refuse, runAction } = require('./lib/hub-client.js');

const ACTIONS = ['create', 'note', 'escalate', 'dispatch'];

/**
 * Raise a ticket (source node-red), add a note, escalate a level, or dispatch to a department.
 * Roles and jurisdiction are the flow user's: the hub refuses what the user may not do.
 */
module.exports = (RED) => {
  function GridhubTicketNode(config) {
    RED.nodes.createNode(this, config);
    const hub = hubOf(RED, this, config);
    if (!hub) return;
    this.on('input', (msg, send, done) => {
      const action = ACTIONS.includes(msg.action) ? msg.action : config.action || 'create';
      const p = msg.payload && typeof msg.payload === 'object' ? msg.payload : {};
      if (action === 'create') {
        const body = {
          title: p.title || config.title || (typeof msg.payload === 'string' ? msg.payload : ''),
          description: p.description,
          category: p.category || config.category || undefined,
          severity: p.severity || config.severity || undefined,
          site: p.site || config.site || undefined,
          gridNode: p.gridNode || config.gridNode || undefined,
          device: p.device,
          level: p.level,
          source: 'node-red',
        };
        for (const k of Object.keys(body)) if (body[k] === undefined || body[k] === '') delete body[k];
        runAction(this, msg, send, done, 'create', () => hub.client.request('POST', '/tickets', body));
        return;
      }
      const id = msg.ticketId || p.ticketId || p.id;
      if (!id) {
        refuse(this, done, 'no ticket id', 'msg.ticketId is missing');
        return;
      }
      const body = {};
      const note = p.note || (typeof msg.payload === 'string' ? msg.payload : undefined) || config.note;
      if (note) body.note = note;
      if (action === 'dispatch') {
        const department = p.department || msg.department || config.department;
        if (department) body.department = department;
        if (p.assignee) body.assignee = p.assignee;
      }
      runAction(this, msg, send, done, action, () =>
        hub.client.request('POST', `/tickets/${encodeURIComponent(id)}/${action}`, body),
      );
    });
  }
  RED.nodes.registerType('gridhub-ticket', GridhubTicketNode);
};

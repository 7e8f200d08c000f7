/**
 * The README's list of alert change actions (the alert topic and the console's stream) names every
 * action the alerts service can emit — the typed list in contract/staff-messages.ts — and no other
 * (the red team found `stored` and `linked` missing). Opens no socket.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALERT_CHANGE_ACTIONS } from '../../src/contract/staff-messages.ts';

const README = new URL('../../../README.md', import.meta.url);

describe('README alert actions', () => {
  it('lists exactly the actions of ALERT_CHANGE_ACTIONS under the alert topic', () => {
    const readme = readFileSync(README, 'utf8');
    const start = readme.indexOf('- **`gh/v1/hub/alert/<gridNodeId>/<siteId>/<alertId>`**');
    const end = readme.indexOf('- **Acknowledge**', start);
    expect(start).toBeGreaterThan(0);
    const bullet = readme.slice(start, end);
    const listed = bullet.slice(bullet.indexOf('Actions:'));
    const named = [...listed.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]);
    expect(new Set(named)).toEqual(new Set(ALERT_CHANGE_ACTIONS));
  });
});

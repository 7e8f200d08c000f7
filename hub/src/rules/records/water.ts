import { atLeast, moreSevere, type Severity } from '../../contract/severity.ts';
import type { TitleSpec } from '../../contract/titles.ts';
import { ticketTitle } from '../../tickets/ticket-titles.ts';
import { type Condition, Dwell, holds, severityByDuration } from '../helpers.ts';
import { eventRef, placementOf, policyAt, type Rule } from '../rule.ts';

/** Water leak → leak ticket per sensor and an alert; a restore is noted (and resolves the alert). */
export function waterLeakRule(): Rule {
  return {
    name: 'water-leak',
    description: 'Water leak → one leak ticket per sensor and an alert to the emergency unit',
    on: 'device.event',
    deviceTypes: ['water-leak'],
    async handle(e, ctx) {
      if (e.deviceType !== 'water-leak') return;
      const key = `leak:${e.deviceId}`;
      if (e.event.type === 'leak') {
        const { ticket } = await ctx.tickets.raise({
          category: 'leak',
          source: 'device-rule',
          severity: 'major',
          title: { code: 'leak' },
          placement: placementOf(e),
          incidentKey: key,
          link: { kind: 'event', ref: eventRef(e), at: e.at },
          actor: 'rule:water-leak',
        });
        // A water alarm is life-safety (DESIGN.md): every leak asks for an alert; the alert service
        // counts it on the active one or raises a new one after a resolve.
        ctx.requestAlert({
          ...e,
          severity: 'major',
          cause: 'water-leak',
          ...ticketTitle(ticket),
          ticketId: ticket.id,
          eventRef: eventRef(e),
        });
      } else if (e.event.type === 'leak.clear') {
        const open = await ctx.tickets.findOpen(key);
        if (open)
          await ctx.tickets.note(
            open.id,
            'rule:water-leak',
            'leak cleared at the sensor; staff still verify',
            { kind: 'event', ref: eventRef(e), at: e.at },
          );
      }
    },
  };
}

/**
 * Water level: above the alarm threshold for the dwell time OR rising faster than the rate (an OR
 * across two different fields) → flood alarm; above the warning threshold for the dwell time → flood
 * warning, which becomes critical if it lasts. Thresholds are policies per site.
 */
export function waterLevelRule(): Rule {
  const aboveAlarm = new Dwell<string>();
  const aboveWarning = new Dwell<string>();
  const history = new Map<string, { at: number; level: number }[]>();
  const raised = new Map<string, Severity>();
  return {
    name: 'water-level',
    description:
      'Water level above warning/alarm for a dwell time, or rising fast → flood ticket, severity rising with duration',
    on: 'device.telemetry',
    deviceTypes: ['water-level'],
    async handle(t, ctx) {
      if (t.deviceType !== 'water-level') return;
      const at = policyAt(t);
      let level = t.values.level;
      let now = t.at;
      const dwellMs = ctx.policy('water.level.dwellSeconds', at) * 1000;
      const alarmCm = ctx.policy('water.level.alarmCm', at);
      const warningCm = ctx.policy('water.level.warningCm', at);
      // Rate of rise over the readings of the last hour (at least one dwell apart), in the
      // devices' time order: a reading may be handled after a later one (a flood reading takes the
      // life-safety lane past an ordinary one still queued), so samples are kept sorted by time.
      const samples = (history.get(t.deviceId) ?? []).filter((s) => s.at > now - 3600_000);
      samples.push({ at: now, level });
      samples.sort((a, b) => a.at - b.at);
      history.set(t.deviceId, samples);
      const oldest = samples[0] as { at: number; level: number };
      const newest = samples[samples.length - 1] as { at: number; level: number };
      // The device's state is its newest reading, also when an older one is handled after it.
      level = newest.level;
      now = newest.at;
      const span = newest.at - oldest.at;
      const riseCmPerHour =
        span >= Math.max(dwellMs, 1000) ? ((newest.level - oldest.level) / span) * 3600_000 : 0;

      const values = {
        aboveAlarmMs: aboveAlarm.update(t.deviceId, level >= alarmCm, now),
        aboveWarningMs: aboveWarning.update(t.deviceId, level >= warningCm, now),
        riseCmPerHour,
      };
      const alarm: Condition = {
        any: [
          { field: 'aboveAlarmMs', op: '>=', value: dwellMs },
          { field: 'riseCmPerHour', op: '>=', value: ctx.policy('water.level.riseCmPerHour', at) },
        ],
      };
      let severity: Severity | undefined;
      let why = `≥ ${warningCm} cm`;
      let title: TitleSpec = { code: 'flood.warning', params: { level, threshold: warningCm } };
      if (holds(alarm, values)) {
        severity = 'critical';
        why = values.aboveAlarmMs >= dwellMs ? `≥ ${alarmCm} cm` : `rising ${riseCmPerHour.toFixed(1)} cm/h`;
        title =
          values.aboveAlarmMs >= dwellMs
            ? { code: 'flood.alarm', params: { level, threshold: alarmCm } }
            : { code: 'flood.rising', params: { level, rate: Math.round(riseCmPerHour * 10) / 10 } };
      } else if (values.aboveWarningMs >= dwellMs) {
        severity = severityByDuration(values.aboveWarningMs, [
          { afterMs: dwellMs, severity: 'warning' },
          {
            afterMs: ctx.policy('water.level.warningToCriticalMinutes', at) * 60_000,
            severity: 'critical',
          },
        ]);
        if (severity === 'critical') {
          const minutes = Math.round(values.aboveWarningMs / 60_000);
          why = `≥ ${warningCm} cm for ${minutes} min`;
          title = { code: 'flood.lasting', params: { level, threshold: warningCm, minutes } };
        }
      }
      const key = `flood:${t.deviceId}`;
      if (!severity) {
        if (level < warningCm && raised.has(t.deviceId)) {
          raised.delete(t.deviceId);
          const open = await ctx.tickets.findOpen(key);
          if (open)
            await ctx.tickets.note(
              open.id,
              'rule:water-level',
              `level back to ${level} cm (below warning ${warningCm} cm)`,
            );
        }
        return;
      }
      const before = raised.get(t.deviceId);
      if (before && atLeast(before, severity)) {
        // Eased to a lower step (back under the alarm level, still over the warning): remember the
        // lower step, so that crossing back over the alarm level alarms (and alerts) again.
        if (moreSevere(before, severity)) raised.set(t.deviceId, severity);
        return;
      }
      raised.set(t.deviceId, severity);
      const { ticket } = await ctx.tickets.raise({
        category: 'flood',
        source: 'device-rule',
        severity,
        title,
        placement: placementOf(t),
        incidentKey: key,
        ...(severity === 'critical' ? {} : { level: 1 }),
        note: `level ${level} cm, ${why}`,
        actor: 'rule:water-level',
      });
      if (severity === 'critical') {
        if (ticket.level < ctx.tickets.startLevel('flood', at))
          await ctx.tickets.escalateTo(
            ticket.id,
            ctx.tickets.startLevel('flood', at),
            'rule:water-level',
            'flood alarm',
            'critical',
          );
        ctx.requestAlert({
          ...t,
          severity: 'critical',
          cause: 'flood-alarm',
          ...ticketTitle(ticket),
          ticketId: ticket.id,
          eventRef: null,
        });
      }
    },
    stop() {
      history.clear();
      raised.clear();
    },
  };
}

import type { MqttClient } from 'mqtt';
import type { CommandAckPayload, CommandPayload } from '../../hub/src/contract/payloads.ts';
import { topicFor } from '../../hub/src/contract/topics.ts';

/**
 * How a model reports a command's result as an event. Generic models use the generic event types;
 * a vendor model speaks its own codes (the hub's decoder maps them back: Acme 8 = self-test, 9 =
 * silenced). Models without an entry answer only on cmd/ack.
 */
const RESULT_EVENTS: Record<string, Partial<Record<'silence' | 'selftest', Record<string, unknown>>>> = {
  'generic-nb-smoke': { silence: { type: 'silenced' }, selftest: { type: 'selftest', result: 'ok' } },
  'generic-panic-button': { selftest: { type: 'selftest', result: 'ok' } },
  'acme-nb-smoke-s1': { silence: { code: 9 }, selftest: { code: 8, normal: 1 } },
};

export interface CommandDevice {
  id: string;
  model: string;
}

/**
 * Makes a simulated device answer the hub's commands the way firmware does: subscribe to its own
 * `cmd` topic (QoS 1), act once per commandId (QoS 1 may deliver twice), refuse a command that
 * arrives after its `expiresAt`, say `accepted` on cmd/ack, then report the outcome — the result
 * event for a silence or a self-test (which is how the hub learns it finished), `done` for a
 * configuration.
 */
export async function answerCommands(
  client: MqttClient,
  device: CommandDevice,
  eventId: () => string,
  log: (line: string) => void = () => undefined,
): Promise<void> {
  const cmdTopic = topicFor('command', { deviceId: device.id });
  const seen = new Set<string>();
  const ack = (a: CommandAckPayload) =>
    client.publishAsync(`${cmdTopic}/ack`, JSON.stringify(a), { qos: 1 }).catch(() => undefined);
  client.on('message', (topic, payload) => {
    if (topic !== cmdTopic) return;
    let cmd: CommandPayload;
    try {
      cmd = JSON.parse(payload.toString()) as CommandPayload;
    } catch {
      return;
    }
    if (seen.has(cmd.commandId)) return;
    seen.add(cmd.commandId);
    void (async () => {
      if (cmd.expiresAt !== undefined && cmd.expiresAt <= Date.now()) {
        await ack({ commandId: cmd.commandId, status: 'rejected', reason: 'arrived after it expired' });
        return;
      }
      await ack({ commandId: cmd.commandId, status: 'accepted' });
      const result = cmd.type === 'configure' ? undefined : RESULT_EVENTS[device.model]?.[cmd.type];
      if (result) {
        await client
          .publishAsync(
            topicFor('event', { deviceId: device.id }),
            JSON.stringify({ eventId: eventId(), ...result }),
            {
              qos: 1,
            },
          )
          .catch(() => undefined);
      } else {
        await ack({ commandId: cmd.commandId, status: 'done' });
      }
      log(`  ${device.id}: command ${cmd.type} carried out`);
    })();
  });
  await client.subscribeAsync(cmdTopic, { qos: 1 });
}

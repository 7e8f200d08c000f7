import type { DeviceEvent, DeviceTelemetry } from '../contract/device-event.ts';
import { elevatorFaultSeverity } from '../contract/elevator-codes.ts';
import type { ModelCatalogue } from '../devices/models/index.ts';
import type { PolicyContext } from '../policies/policy-service.ts';

/** Reads a policy value (the classifier needs the site's flood threshold). */
export type PolicyReader = (key: 'water.level.warningCm', at: PolicyContext) => number;

/**
 * Which messages are life-safety (DESIGN.md "Guarantees on a bad day"): they take the lane that
 * ordinary traffic cannot delay, and are handled before their journal commit. A panic press, a
 * smoke alarm, a water leak, a water level at or above the site's warning threshold, and the
 * elevator codes whose severity is critical (entrapment 11, overrun 09/10, unintended movement 05,
 * overspeed, door open while running — or 01/04 with a passenger in the car). A model may mark
 * more with its own `lifeSafety` predicate.
 */
export function lifeSafetyClassifier(
  models: ModelCatalogue,
  policy: PolicyReader,
): (m: DeviceEvent | DeviceTelemetry) => boolean {
  return (m) => {
    // A model's predicate is typed to its own device type; the message is that model's.
    const own = models.find(m.modelId)?.lifeSafety as ((x: typeof m) => boolean) | undefined;
    if (own?.(m) === true) return true;
    if ('event' in m) {
      switch (m.deviceType) {
        case 'panic-button':
          return m.event.type === 'press';
        case 'smoke-detector':
          return m.event.type === 'smoke.alarm';
        case 'water-leak':
          return m.event.type === 'leak';
        case 'elevator-monitor':
          return (
            m.event.type === 'fault' && elevatorFaultSeverity(m.event.code, m.event.occupied) === 'critical'
          );
        default:
          return false;
      }
    }
    if (m.deviceType === 'water-level') {
      const at = { deviceId: m.deviceId, siteId: m.siteId, gridPath: m.gridPath, deviceType: m.deviceType };
      return m.values.level >= policy('water.level.warningCm', at);
    }
    return false;
  };
}

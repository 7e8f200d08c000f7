import type { Rule } from '../rule.ts';
import { deviceHealthRule } from './device-health.ts';
import { elevatorFaultRule, elevatorMaintenanceRule } from './elevator.ts';
import { panicPressRule } from './panic.ts';
import { presenceRule, siteOutageRecoveryRule } from './presence.ts';
import { alertRestoreRule } from './restore.ts';
import { smokeAlarmRule } from './smoke.ts';
import { waterLeakRule, waterLevelRule } from './water.ts';

/**
 * The rule set. Adding a rule is adding a record here (its knobs go in policies/definitions.ts) and
 * naming it in the `defaultRules` of the models it applies to: the engine runs a model's rules only.
 */
export function defaultRules(options: { maintenanceCheckMs: number; outageCheckMs: number }): Rule[] {
  return [
    panicPressRule(),
    smokeAlarmRule(),
    alertRestoreRule(),
    deviceHealthRule(),
    waterLeakRule(),
    waterLevelRule(),
    elevatorFaultRule(),
    elevatorMaintenanceRule(options.maintenanceCheckMs),
    presenceRule(),
    siteOutageRecoveryRule(options.outageCheckMs),
  ];
}

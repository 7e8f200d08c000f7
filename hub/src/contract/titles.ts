import { type ElevatorCode, elevatorCodeLabel } from './elevator-codes.ts';

/**
 * Ticket and alert titles as a code and parameters, stored with each ticket and alert. The hub
 * renders the Chinese text it keeps in `title` (chat robots, MQTT, the acknowledgement page) with the
 * templates below; the console renders the code in the reader's language from its catalogue
 * (dashboards/src/i18n.ts), which takes its Chinese from this file so the two cannot drift and must
 * give every code an English template (the type below makes a missing one a compile error).
 *
 * Imports only elevator-codes.ts (itself without imports): the console bundles this file.
 */

export { type ElevatorCode, elevatorCodeLabel };

export const PRESS_KINDS = ['single', 'double', 'long'] as const;

/** Filled in by the ticket service from the ticket's place: names, never ids. */
interface Place {
  /** the site's name (or the grid node's, for a ticket without a site) */
  site: string;
  /** the device's name, or its id when it has none */
  device?: string;
}

/** The parameters each title code takes besides the place. */
export interface TitleParamsByCode {
  'panic.press': { kind: (typeof PRESS_KINDS)[number] };
  'fire.smoke': Record<never, never>;
  'fire.confirmed': { detectors: number };
  leak: Record<never, never>;
  /** above the warning threshold for the dwell time */
  'flood.warning': { level: number; threshold: number };
  /** above the alarm threshold for the dwell time */
  'flood.alarm': { level: number; threshold: number };
  /** rising faster than the rate policy (cm per hour) */
  'flood.rising': { level: number; rate: number };
  /** above the warning threshold for so long that it became critical */
  'flood.lasting': { level: number; threshold: number; minutes: number };
  'device.fault': Record<never, never>;
  'device.battery-low': Record<never, never>;
  'device.tamper': Record<never, never>;
  'device.end-of-life': Record<never, never>;
  'device.selftest-failed': Record<never, never>;
  'device.offline': Record<never, never>;
  'site.outage': { count: number };
  'elevator.rescue': { floor?: number };
  'elevator.fault': { code: ElevatorCode; floor?: number };
  'elevator.recurring': { count: number; hours: number };
  /** `last`: the date of the last visit, YYYY-MM-DD */
  'elevator.maintenance-overdue': { last: string };
}
export type TitleCode = keyof TitleParamsByCode;

/** What a rule gives: a code and its own parameters (the place is added by the ticket service). */
export type TitleSpec = {
  [C in TitleCode]: keyof TitleParamsByCode[C] extends never
    ? { code: C; params?: TitleParamsByCode[C] }
    : { code: C; params: TitleParamsByCode[C] };
}[TitleCode];

/** One renderer per code, for one language. */
export type TitleTemplates = { [C in TitleCode]: (p: TitleParamsByCode[C] & Place) => string };

/** Stored parameters: the place and the code's own, JSON. */
export type TitleParams = Record<string, string | number>;

const at = (device: string | undefined) => (device ? ` ${device}` : '');
const floorZh = (floor: number | undefined) => (floor === undefined ? '' : `，${floor}层`);
const PRESS_ZH = { single: '单击', double: '双击', long: '长按' } as const;

export const TITLES_ZH: TitleTemplates = {
  'panic.press': (p) => `一键报警：${p.site}（${PRESS_ZH[p.kind] ?? p.kind}）`,
  'fire.smoke': (p) => `烟感报警：${p.site}`,
  'fire.confirmed': (p) => `确认火警：${p.site}（${p.detectors} 个烟感报警）`,
  leak: (p) => `漏水报警：${p.site}${at(p.device)}`,
  'flood.warning': (p) => `水位预警：${p.site} ${p.level} cm（≥ ${p.threshold} cm）`,
  'flood.alarm': (p) => `水位告警：${p.site} ${p.level} cm（≥ ${p.threshold} cm）`,
  'flood.rising': (p) => `水位告警：${p.site} ${p.level} cm（每小时上涨 ${p.rate} cm）`,
  'flood.lasting': (p) => `水位告警：${p.site} ${p.level} cm（≥ ${p.threshold} cm 已持续 ${p.minutes} 分钟）`,
  'device.fault': (p) => `设备故障：${p.site}${at(p.device)}`,
  'device.battery-low': (p) => `电量低：${p.site}${at(p.device)}`,
  'device.tamper': (p) => `设备被拆/防拆报警：${p.site}${at(p.device)}`,
  'device.end-of-life': (p) => `设备寿命到期：${p.site}${at(p.device)}`,
  'device.selftest-failed': (p) => `自检失败：${p.site}${at(p.device)}`,
  'device.offline': (p) => `设备离线：${p.site}${at(p.device)}`,
  'site.outage': (p) => `整体离线：${p.site}（${p.count} 台设备）`,
  'elevator.rescue': (p) => `电梯困人救援：${p.site}${at(p.device)}（11 困人${floorZh(p.floor)}）`,
  'elevator.fault': (p) =>
    `电梯故障：${p.site}${at(p.device)}（${elevatorCodeLabel(p.code, 'zh')}${floorZh(p.floor)}）`,
  'elevator.recurring': (p) => `电梯频繁故障：${p.site}${at(p.device)}（${p.hours} 小时内 ${p.count} 次）`,
  'elevator.maintenance-overdue': (p) => `电梯维保逾期：${p.site}${at(p.device)}（上次维保 ${p.last}）`,
};

export const TITLE_CODES = Object.keys(TITLES_ZH) as TitleCode[];

/**
 * A stored title in a language's templates; undefined when the code is unknown to them (a newer
 * hub) or the parameters do not fit, so the caller shows the stored text instead.
 */
export function renderTitle(
  templates: TitleTemplates,
  code: string | null,
  params: TitleParams,
): string | undefined {
  if (!code || !Object.hasOwn(templates, code)) return undefined;
  try {
    const render = templates[code as TitleCode] as unknown as (p: TitleParams) => string;
    const text = render({ site: '', ...params });
    return text.includes('undefined') ? undefined : text;
  } catch {
    return undefined;
  }
}

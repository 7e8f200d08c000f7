import type { Severity } from './severity.ts';

/**
 * The elevator fault codes, once (GB/T 24476-2023 numbering, DOMAIN.md table, and the add-on monitor
 * codes): name, suggested severity, the severity with a passenger in the car, and whether the fault
 * takes the car out of service until cleared. Everything that knows a code reads it from here: the
 * event schema (contract/payloads.ts), titles and the console (contract/titles.ts), the elevator
 * rule and the life-safety lane (rules/records/elevator.ts), the health score
 * (timeseries/elevator-health.ts) and the Node-RED nodes (the generated
 * flows/nodes/lib/contract.gen.js). Adding a code is adding a line here.
 *
 * No runtime imports: the console bundles this file.
 */
export interface ElevatorCodeRecord {
  code: string;
  zh: string;
  en: string;
  severity: Severity;
  /** the severity when a passenger is in the car (01, 04) */
  whenOccupied?: Severity;
  /** the car is out of service from this fault until its fault.clear (elevator health availability) */
  stopsCar: boolean;
}

export const ELEVATOR_CODE_LIST = [
  {
    code: '01',
    zh: '运行中安全回路断路',
    en: 'safety circuit opened while running',
    severity: 'major',
    whenOccupied: 'critical',
    stopsCar: true,
  },
  { code: '02', zh: '关门故障', en: 'door close failure', severity: 'minor', stopsCar: false },
  { code: '03', zh: '开门故障', en: 'door open failure', severity: 'minor', stopsCar: false },
  {
    code: '04',
    zh: '开锁区域外停梯',
    en: 'stopped outside the door zone',
    severity: 'major',
    whenOccupied: 'critical',
    stopsCar: true,
  },
  {
    code: '05',
    zh: '轿厢意外移动（开门走梯）',
    en: 'car moved with doors open',
    severity: 'critical',
    stopsCar: true,
  },
  {
    code: '06',
    zh: '电动机运转时间限制器动作',
    en: 'motor run-time limiter tripped',
    severity: 'major',
    stopsCar: true,
  },
  { code: '07', zh: '楼层位置丢失', en: 'floor position lost', severity: 'minor', stopsCar: false },
  { code: '08', zh: '防止电梯再运行故障', en: 're-run prevention fault', severity: 'minor', stopsCar: false },
  { code: '09', zh: '冲顶', en: 'car overran the top', severity: 'critical', stopsCar: true },
  { code: '10', zh: '蹲底', en: 'car overran the bottom', severity: 'critical', stopsCar: true },
  { code: '11', zh: '困人', en: 'passenger trapped', severity: 'critical', stopsCar: true },
  { code: 'overspeed', zh: '超速', en: 'overspeed', severity: 'critical', stopsCar: true },
  {
    code: 'door_open_running',
    zh: '开门运行',
    en: 'door open while running',
    severity: 'critical',
    stopsCar: true,
  },
  { code: 'power_loss', zh: '停电', en: 'power loss', severity: 'major', stopsCar: true },
  { code: 'door_cycling', zh: '反复开关门', en: 'repeated door cycling', severity: 'minor', stopsCar: false },
  { code: 'door_held', zh: '阻止关门', en: 'door held open', severity: 'minor', stopsCar: false },
  {
    code: 'door_open_long',
    zh: '开门时间过长',
    en: 'door open too long',
    severity: 'minor',
    stopsCar: false,
  },
  { code: 'alarm_bell', zh: '报警铃', en: 'alarm bell pressed', severity: 'minor', stopsCar: false },
  { code: 'ebike', zh: '电动车进入轿厢', en: 'e-bike in the car', severity: 'minor', stopsCar: false },
] as const satisfies readonly ElevatorCodeRecord[];

export type ElevatorCode = (typeof ELEVATOR_CODE_LIST)[number]['code'];

/** The codes in their table order (the event schema's enum). */
export const ELEVATOR_FAULT_CODES: readonly ElevatorCode[] = ELEVATOR_CODE_LIST.map((c) => c.code);

export const ELEVATOR_CODES: Readonly<Record<ElevatorCode, ElevatorCodeRecord>> = Object.fromEntries(
  ELEVATOR_CODE_LIST.map((c) => [c.code, c]),
) as Record<ElevatorCode, ElevatorCodeRecord>;

/** The record of a code, or undefined for a code the hub does not know (an older or foreign monitor). */
export function elevatorCode(code: string): ElevatorCodeRecord | undefined {
  return Object.hasOwn(ELEVATOR_CODES, code) ? ELEVATOR_CODES[code as ElevatorCode] : undefined;
}

/** The severity of a fault: the code's, raised when a passenger is in the car and the code says so. */
export function elevatorFaultSeverity(code: string, occupied = false): Severity | undefined {
  const c = elevatorCode(code);
  if (!c) return undefined;
  return occupied && c.whenOccupied ? c.whenOccupied : c.severity;
}

/**
 * A code as people read it: GB/T numbers with their name (09 冲顶: installers and maintainers know
 * the numbers), add-on monitor codes by their name alone (开门运行, never door_open_running).
 */
export function elevatorCodeLabel(code: string, lang: 'zh' | 'en'): string {
  const name = elevatorCode(code)?.[lang];
  if (!name) return code;
  return /^\d+$/.test(code) ? `${code} ${name}` : name;
}

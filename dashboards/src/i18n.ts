import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
// The hub's title codes and their Chinese (the same text the hub sends to chat robots); only the
// English is written here, and the type makes a code without English a compile error.
import {
  elevatorCodeLabel,
  renderTitle,
  TITLES_ZH,
  type TitleParams,
  type TitleTemplates,
} from '../../hub/src/contract/titles.ts';

export type Lang = 'zh-CN' | 'en';

const zh = {
  appName: '网格中枢',
  signIn: '登录',
  signOut: '退出',
  username: '用户名（人员编号）',
  password: '密码',
  signInFailed: '用户名或密码错误',
  signInLocked: '失败次数过多，请 15 分钟后再试',
  navAlarms: '告警',
  navTickets: '工单',
  navElevators: '电梯',
  navDevices: '设备',
  navGrid: '网格',
  language: 'English',
  loading: '加载中…',
  none: '暂无',
  error: '出错了',
  live: '实时',
  reconnecting: '重新连接中…',
  activeAlarms: '当前告警',
  noAlarms: '当前没有告警',
  soundOn: '声音提示：开',
  soundOff: '声音提示：关',
  site: '地点',
  device: '设备',
  cause: '原因',
  elapsed: '已持续',
  step: '通知进度',
  state: '状态',
  severity: '级别',
  acknowledge: '确认收到',
  resolve: '解除',
  falseAlarm: '误报',
  reasonPrompt: '请填写原因',
  ackedBy: '确认人',
  times: '次',
  level: '层级',
  grid: '网格',
  overdue: '已超时',
  onlyOverdue: '只看超时',
  all: '全部',
  title: '标题',
  created: '创建时间',
  deadline: '时限',
  timeline: '处置过程',
  actions: '操作',
  note: '备注',
  links: '关联',
  statistics: '统计',
  closureRate: '办结率',
  onTimeRate: '按时率',
  reworkRate: '返工率',
  satisfactionRate: '满意率',
  tickets: '工单',
  back: '返回',
  healthRanking: '电梯健康排名（由低到高）',
  score: '健康分',
  gradeLabel: '等级',
  trips: '运行次数',
  doorCycles: '开关门次数',
  faults: '故障次数',
  availability: '可用率',
  leveling: '平层误差 (mm)',
  faultsByCode: '按代码统计故障',
  range: '时间范围',
  days: '天',
  openTickets: '未办结工单',
  online: '在线',
  offline: '离线',
  battery: '电量',
  lastSeen: '最后上报',
  model: '型号',
  name: '名称',
  serial: '序列号',
  register: '登记设备',
  registerDone: '设备已登记。密钥只显示这一次，请立即写入设备：',
  secret: '设备密钥',
  commissioning: '调试视图',
  commissioningHint: '现在按下设备的测试按钮，消息到达后会显示在这里。',
  accepted: '已接收',
  rejected: '已拒收',
  csvImport: 'CSV 批量导入',
  dryRun: '预检',
  importNow: '导入',
  csvOk: '预检通过，可以导入',
  csvProblems: '以下行有问题，未写入任何数据',
  line: '行',
  column: '列',
  reason: '原因',
  imported: '已导入',
  devices: '设备数',
  policies: '策略',
  policyKey: '策略',
  value: '取值',
  source: '来源',
  defaultValue: '默认',
  scope: '范围',
  forMinutes: '时长（分钟，可空）',
  save: '保存',
  saved: '已保存',
  resolveAt: '查看取值的位置',
  expires: '到期恢复',
  l1: '微网格',
  l2: '网格',
  l3: '街道',
  l4: '区级部门',
  id: '编号',
  menu: '菜单',
  assignee: '处置人',
  department: '部门',
  unit: '应急单元',
  system: '系统',
  rule: '规则',
  linkEvent: '事件',
  linkDevice: '设备',
  linkAlert: '告警',
  noSession: '未登录',
  navIntegrations: '平台接入',
  noIntegrations: '尚未接入任何平台（CTWing、OneNET、ChirpStack）',
  integrationKind: '类型',
  kind_ctwing: '中国电信 CTWing (AEP)',
  kind_onenet: '中国移动 OneNET',
  kind_chirpstack: 'LoRaWAN · ChirpStack',
  enabled: '启用',
  disabled: '停用',
  models: '承载型号',
  pushUrl: '推送地址',
  pushUrlCtwing: '在 CTWing 产品的订阅推送中填写此地址，并附上创建时显示的 ?token=…（遗失请更换令牌）',
  pushUrlOnenet: '在 OneNET 的 HTTP 推送中填写此地址（明文模式），Token 填创建时设置的令牌',
  networkServer: '网络服务器',
  application: '应用',
  connection: '连接',
  conn_connecting: '连接中',
  conn_connected: '已连接',
  conn_reconnecting: '重新连接中',
  conn_stopped: '已停止',
  commandsVia: '下发命令',
  commandsReady: '可经平台下发',
  commandsNotReady: '未配置平台命令接口',
  sinceStart: '本次启动以来',
  duplicates: '重复',
  unmatched: '未匹配',
  rotateToken: '更换推送令牌',
  rotateDone: '新的推送地址只显示这一次，请立即填入平台：',
  unmatchedTitle: '未登记的设备（平台上报但本系统没有登记）',
  unmatchedNone: '没有未匹配的设备',
  identity: '标识',
  identity_imei: 'IMEI',
  identity_platformDeviceId: '平台设备ID',
  identity_devEui: 'DevEUI',
  lastMessage: '最近一条消息',
  registeredFromUnmatched: '设备已登记，平台的下一条消息将被接收。',
} as const;

type Dict = { [K in keyof typeof zh]: string };

const en: Dict = {
  appName: 'gridhub',
  signIn: 'Sign in',
  signOut: 'Sign out',
  username: 'User name (person id)',
  password: 'Password',
  signInFailed: 'Wrong user name or password',
  signInLocked: 'Too many failures; try again in 15 minutes',
  navAlarms: 'Alarms',
  navTickets: 'Tickets',
  navElevators: 'Elevators',
  navDevices: 'Devices',
  navGrid: 'Grid',
  language: '中文',
  loading: 'Loading…',
  none: 'None',
  error: 'Error',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  activeAlarms: 'Active alarms',
  noAlarms: 'No active alarms',
  soundOn: 'Sound: on',
  soundOff: 'Sound: off',
  site: 'Site',
  device: 'Device',
  cause: 'Cause',
  elapsed: 'Elapsed',
  step: 'Escalation',
  state: 'State',
  severity: 'Severity',
  acknowledge: 'Acknowledge',
  resolve: 'Resolve',
  falseAlarm: 'False alarm',
  reasonPrompt: 'Reason',
  ackedBy: 'Acknowledged by',
  times: 'times',
  level: 'Level',
  grid: 'Grid',
  overdue: 'Overdue',
  onlyOverdue: 'Overdue only',
  all: 'All',
  title: 'Title',
  created: 'Created',
  deadline: 'Deadline',
  timeline: 'Timeline',
  actions: 'Actions',
  note: 'Note',
  links: 'Linked',
  statistics: 'Statistics',
  closureRate: 'Closure',
  onTimeRate: 'On time',
  reworkRate: 'Rework',
  satisfactionRate: 'Satisfaction',
  tickets: 'Tickets',
  back: 'Back',
  healthRanking: 'Elevator health (worst first)',
  score: 'Score',
  gradeLabel: 'Grade',
  trips: 'Trips',
  doorCycles: 'Door cycles',
  faults: 'Faults',
  availability: 'Availability',
  leveling: 'Levelling error (mm)',
  faultsByCode: 'Faults by code',
  range: 'Range',
  days: 'days',
  openTickets: 'Open tickets',
  online: 'Online',
  offline: 'Offline',
  battery: 'Battery',
  lastSeen: 'Last seen',
  model: 'Model',
  name: 'Name',
  serial: 'Serial',
  register: 'Register a device',
  registerDone: 'Registered. The secret is shown only this once; put it into the device now:',
  secret: 'Device secret',
  commissioning: 'Commissioning',
  commissioningHint: 'Press the device’s test button now; its message appears here when it arrives.',
  accepted: 'Accepted',
  rejected: 'Rejected',
  csvImport: 'CSV import',
  dryRun: 'Dry run',
  importNow: 'Import',
  csvOk: 'Dry run passed; ready to import',
  csvProblems: 'These rows have problems; nothing was written',
  line: 'Line',
  column: 'Column',
  reason: 'Reason',
  imported: 'Imported',
  devices: 'Devices',
  policies: 'Policies',
  policyKey: 'Policy',
  value: 'Value',
  source: 'Source',
  defaultValue: 'Default',
  scope: 'Scope',
  forMinutes: 'For minutes (optional)',
  save: 'Save',
  saved: 'Saved',
  resolveAt: 'Resolve at',
  expires: 'Restores at',
  l1: 'Micro-grid',
  l2: 'Grid',
  l3: 'Street',
  l4: 'District dept.',
  id: 'ID',
  menu: 'Menu',
  assignee: 'Assignee',
  department: 'Department',
  unit: 'Emergency unit',
  system: 'System',
  rule: 'Rule',
  linkEvent: 'Event',
  linkDevice: 'Device',
  linkAlert: 'Alert',
  noSession: 'Not signed in',
  navIntegrations: 'Integrations',
  noIntegrations: 'No platform connected yet (CTWing, OneNET, ChirpStack)',
  integrationKind: 'Kind',
  kind_ctwing: 'China Telecom CTWing (AEP)',
  kind_onenet: 'China Mobile OneNET',
  kind_chirpstack: 'LoRaWAN · ChirpStack',
  enabled: 'Enabled',
  disabled: 'Disabled',
  models: 'Models carried',
  pushUrl: 'Push URL',
  pushUrlCtwing:
    'Paste into the CTWing product’s subscription push, with the ?token=… shown at creation (lost it? rotate the token)',
  pushUrlOnenet: 'Paste into OneNET’s HTTP push (plain mode); its Token is the one set at creation',
  networkServer: 'Network server',
  application: 'application',
  connection: 'Connection',
  conn_connecting: 'Connecting',
  conn_connected: 'Connected',
  conn_reconnecting: 'Reconnecting',
  conn_stopped: 'Stopped',
  commandsVia: 'Commands',
  commandsReady: 'Sent through the platform',
  commandsNotReady: 'No command API configured',
  sinceStart: 'Since the hub started',
  duplicates: 'duplicates',
  unmatched: 'unmatched',
  rotateToken: 'Rotate push token',
  rotateDone: 'The new push URL is shown only this once; paste it into the platform now:',
  unmatchedTitle: 'Unregistered devices (reported by the platform, unknown here)',
  unmatchedNone: 'No unmatched devices',
  identity: 'Identity',
  identity_imei: 'IMEI',
  identity_platformDeviceId: 'Platform device id',
  identity_devEui: 'DevEUI',
  lastMessage: 'Latest message',
  registeredFromUnmatched: 'Device registered; the platform’s next message will be accepted.',
};

export type Key = keyof typeof zh;
const DICTS: Record<Lang, Dict> = { 'zh-CN': zh, en };

const SEVERITY = {
  'zh-CN': { critical: '紧急', major: '重要', minor: '一般', warning: '预警' },
  en: { critical: 'Critical', major: 'Major', minor: 'Minor', warning: 'Warning' },
} as const;
const CAUSE: Record<Lang, Record<string, string>> = {
  'zh-CN': {
    'panic-press': '一键报警',
    'smoke-alarm': '烟感报警',
    'fire-confirmed': '确认火警',
    'elevator-entrapment': '电梯困人',
    'flood-alarm': '水位超限',
    'water-leak': '水浸',
  },
  en: {
    'panic-press': 'Panic button',
    'smoke-alarm': 'Smoke alarm',
    'fire-confirmed': 'Confirmed fire',
    'elevator-entrapment': 'Elevator entrapment',
    'flood-alarm': 'Flood level',
    'water-leak': 'Water leak',
  },
};
const dev = (device: string | undefined) => (device ? ` ${device}` : '');
const floorEn = (floor: number | undefined) => (floor === undefined ? '' : `, floor ${floor}`);
const PRESS_EN = { single: 'single press', double: 'double press', long: 'long press' } as const;

const TITLES_EN: TitleTemplates = {
  'panic.press': (p) => `Panic button: ${p.site} (${PRESS_EN[p.kind] ?? p.kind})`,
  'fire.smoke': (p) => `Smoke alarm: ${p.site}`,
  'fire.confirmed': (p) => `Confirmed fire: ${p.site} (${p.detectors} detectors alarming)`,
  leak: (p) => `Water leak: ${p.site}${dev(p.device)}`,
  'flood.warning': (p) => `Water level warning: ${p.site} ${p.level} cm (≥ ${p.threshold} cm)`,
  'flood.alarm': (p) => `Water level alarm: ${p.site} ${p.level} cm (≥ ${p.threshold} cm)`,
  'flood.rising': (p) => `Water level alarm: ${p.site} ${p.level} cm (rising ${p.rate} cm/h)`,
  'flood.lasting': (p) =>
    `Water level alarm: ${p.site} ${p.level} cm (≥ ${p.threshold} cm for ${p.minutes} min)`,
  'device.fault': (p) => `Device fault: ${p.site}${dev(p.device)}`,
  'device.battery-low': (p) => `Low battery: ${p.site}${dev(p.device)}`,
  'device.tamper': (p) => `Tamper alarm: ${p.site}${dev(p.device)}`,
  'device.end-of-life': (p) => `End of life: ${p.site}${dev(p.device)}`,
  'device.selftest-failed': (p) => `Self-test failed: ${p.site}${dev(p.device)}`,
  'device.offline': (p) => `Device offline: ${p.site}${dev(p.device)}`,
  'site.outage': (p) => `Site offline: ${p.site} (${p.count} devices)`,
  'elevator.rescue': (p) =>
    `Elevator entrapment rescue: ${p.site}${dev(p.device)} (11 passenger trapped${floorEn(p.floor)})`,
  'elevator.fault': (p) =>
    `Elevator fault: ${p.site}${dev(p.device)} (${elevatorCodeLabel(p.code, 'en')}${floorEn(p.floor)})`,
  'elevator.recurring': (p) =>
    `Recurring elevator faults: ${p.site}${dev(p.device)} (${p.count} in ${p.hours} h)`,
  'elevator.maintenance-overdue': (p) =>
    `Elevator maintenance overdue: ${p.site}${dev(p.device)} (last visit ${p.last})`,
};
const TITLES: Record<Lang, TitleTemplates> = { 'zh-CN': TITLES_ZH, en: TITLES_EN };

/** What carries a title: its stored Chinese text, and the code the console renders when it has one. */
export interface Titled {
  title: string;
  titleCode?: string | null;
  titleParams?: TitleParams;
}

const STATES: Record<Lang, Record<string, string>> = {
  'zh-CN': {
    raised: '待确认',
    acknowledged: '已确认',
    resolved: '已解除',
    reported: '已上报',
    accepted: '已受理',
    rejected: '不予受理',
    dispatched: '已派发',
    signed: '已签收',
    in_progress: '处置中',
    reported_back: '已反馈',
    verifying: '核查中',
    closed: '已办结',
    evaluated: '已评价',
    provisioned: '待启用',
    active: '运行中',
    maintenance: '维护中',
    decommissioned: '已停用',
  },
  en: {},
};

export interface I18n {
  lang: Lang;
  t: (key: Key) => string;
  severity: (s: string) => string;
  cause: (c: string) => string;
  /** an elevator fault code with its name: 09 冲顶 / 09 car overran the top */
  elevatorCode: (code: string) => string;
  /** a ticket's or alert's title in this language (the stored text when its code is unknown) */
  title: (x: Titled) => string;
  /** who did something: a person's name, 系统 / 规则 for the hub itself */
  actor: (actor: string, name?: string | null) => string;
  state: (s: string) => string;
  time: (iso: string | null | undefined) => string;
  duration: (ms: number) => string;
}

export function makeI18n(lang: Lang): I18n {
  const dict = DICTS[lang];
  const elevatorCode = (code: string) => elevatorCodeLabel(code, lang === 'en' ? 'en' : 'zh');
  return {
    lang,
    t: (key) => dict[key],
    severity: (s) => (SEVERITY[lang] as Record<string, string>)[s] ?? s,
    cause: (c) => {
      if (CAUSE[lang][c]) return CAUSE[lang][c];
      if (!c.startsWith('elevator-fault-')) return c;
      const code = elevatorCode(c.slice(15));
      return lang === 'en' ? `Elevator fault (${code})` : `电梯故障（${code}）`;
    },
    elevatorCode,
    title: (x) => renderTitle(TITLES[lang], x.titleCode ?? null, x.titleParams ?? {}) ?? x.title,
    actor: (actor, name) => {
      if (name) return name;
      if (actor === 'system') return dict.system;
      // The rule's or device's id stays on hover (the caller sets title= to the actor).
      if (actor.startsWith('rule:')) return dict.rule;
      if (actor.startsWith('device:')) return dict.device;
      return actor.replace(/^person:/, '');
    },
    state: (s) => STATES[lang][s] ?? s.replace(/_/g, ' '),
    time: (iso) =>
      iso ? new Date(iso).toLocaleString(lang, { timeZone: 'Asia/Shanghai', hour12: false }) : '—',
    duration: (ms) => {
      const s = Math.max(0, Math.floor(ms / 1000));
      const h = Math.floor(s / 3600);
      const m = Math.floor((s % 3600) / 60);
      const sec = s % 60;
      const two = (n: number) => String(n).padStart(2, '0');
      return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
    },
  };
}

export function initialLang(): Lang {
  const stored = localStorage.getItem('gh.lang');
  return stored === 'en' ? 'en' : 'zh-CN';
}

export const I18nContext = createContext<I18n>(makeI18n('zh-CN'));
export const useI18n = () => useContext(I18nContext);

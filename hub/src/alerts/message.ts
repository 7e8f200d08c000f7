import { DEVICE_TYPE_RECORDS } from '../contract/device-types.ts';
import { DEVICE_TYPES, type DeviceType } from '../contract/payloads.ts';
import { elevatorCodeLabel } from '../contract/titles.ts';
import type { AlertView } from './alert-schemas.ts';
import type { AlertMessage } from './webhook-formats.ts';

const SEVERITY_ZH = { critical: '紧急', major: '重要', minor: '一般', warning: '预警' } as const;
const CAUSE_ZH: Record<string, string> = {
  'panic-press': '一键报警',
  'smoke-alarm': '烟感报警',
  'fire-confirmed': '多个烟感报警，确认火警',
  'elevator-entrapment': '电梯困人',
  'flood-alarm': '水位超限',
  'water-leak': '漏水报警',
};

const deviceTypeName = (type: string | null) =>
  type && (DEVICE_TYPES as readonly string[]).includes(type)
    ? DEVICE_TYPE_RECORDS[type as DeviceType].name.zh
    : (type ?? '');

export function causeText(cause: string): string {
  if (CAUSE_ZH[cause]) return CAUSE_ZH[cause];
  if (!cause.startsWith('elevator-fault-')) return cause;
  return `电梯故障（${elevatorCodeLabel(cause.slice(15), 'zh')}）`;
}

/** Chinese alert text with site, device, cause, time and the acknowledgement link. */
export function alertMessage(
  alert: AlertView,
  site: string,
  ackUrl: string,
  recipients: string,
): AlertMessage {
  const time = new Date(alert.createdAt).toLocaleString('zh-CN', {
    timeZone: 'Asia/Shanghai',
    hour12: false,
  });
  const title = `【${SEVERITY_ZH[alert.severity]}告警】${alert.title}`;
  const lines = [
    title,
    `地点：${site}`,
    ...(alert.deviceId ? [`设备：${alert.deviceId}（${deviceTypeName(alert.deviceType)}）`] : []),
    `原因：${causeText(alert.cause)}${alert.count > 1 ? `（第 ${alert.count} 次）` : ''}`,
    ...(alert.state === 'acknowledged' ? ['注意：确认后再次报警'] : []),
    `时间：${time}`,
    `通知：${recipients}（未确认将逐级升级）`,
    ...(alert.ticketId ? [`工单：${alert.ticketId}`] : []),
  ];
  return {
    title,
    text: [...lines, `确认：${ackUrl}`].join('\n'),
    markdown: [`### ${title}`, ...lines.slice(1).map((l) => `> ${l}`), `[点击确认收到](${ackUrl})`].join(
      '\n',
    ),
    data: { type: 'gridhub.alert', alert, site, ackUrl },
  };
}

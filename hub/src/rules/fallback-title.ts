import type { RulesWork } from '../bus.ts';
import { DEVICE_TYPE_RECORDS } from '../contract/device-types.ts';
import { PRESS_KINDS, renderTitle, TITLES_ZH, type TitleCode, type TitleParams } from '../contract/titles.ts';
import type { PolicyContext } from '../policies/policy-service.ts';

type Subject = RulesWork['subject'];

/**
 * The title of the alert the engine raises from memory when a life-safety message could not write
 * its ticket (engine.ts `alertFromMemory`): the same code the message's own rule would give, so the
 * console renders it in the reader's language like any other (red team: held alerts reached the
 * stream with `titleCode: null`). A message no code fits keeps its Chinese text only.
 */
export function fallbackTitle(
  m: Subject,
  siteName: string,
  warningCm: (at: PolicyContext) => number,
): { title: string; titleCode: TitleCode | null; titleParams: TitleParams } {
  const spec = specOf(m, warningCm);
  const params: TitleParams = { site: siteName, ...(spec?.params ?? {}) };
  const title = spec ? renderTitle(TITLES_ZH, spec.code, params) : undefined;
  if (spec && title) return { title, titleCode: spec.code, titleParams: params };
  return {
    title: `${DEVICE_TYPE_RECORDS[m.deviceType].alarmTitle}：${siteName}`,
    titleCode: null,
    titleParams: {},
  };
}

function specOf(
  m: Subject,
  warningCm: (at: PolicyContext) => number,
): { code: TitleCode; params?: TitleParams } | undefined {
  if ('event' in m) {
    const e = m.event as { type: string; kind?: string; code?: string; floor?: number };
    switch (m.deviceType) {
      case 'panic-button': {
        const kind = PRESS_KINDS.find((k) => k === e.kind) ?? 'single';
        return { code: 'panic.press', params: { kind } };
      }
      case 'smoke-detector':
        return { code: 'fire.smoke' };
      case 'water-leak':
        return { code: 'leak' };
      case 'elevator-monitor': {
        const floor: TitleParams = typeof e.floor === 'number' ? { floor: e.floor } : {};
        if (e.code === '11') return { code: 'elevator.rescue', params: floor };
        return e.code ? { code: 'elevator.fault', params: { code: e.code, ...floor } } : undefined;
      }
      default:
        return undefined;
    }
  }
  if (m.deviceType === 'water-level' && 'level' in m.values && typeof m.values.level === 'number') {
    const threshold = warningCm({
      deviceId: m.deviceId,
      siteId: m.siteId,
      gridPath: m.gridPath,
      deviceType: m.deviceType,
    });
    return { code: 'flood.warning', params: { level: m.values.level, threshold } };
  }
  return undefined;
}

import { useEffect, useRef } from 'preact/hooks';

export type ChartOption = Record<string, unknown>;

// ECharts is loaded when the first chart mounts, in its own chunk: the alarm board never loads it.
let echartsReady: Promise<typeof import('./echarts.ts')> | undefined;
const loadEcharts = () => {
  echartsReady ??= import('./echarts.ts');
  return echartsReady;
};

/** One ECharts chart (SVG renderer) that follows its option and its container's size. */
export function Chart({
  option,
  height = 260,
  testId,
}: {
  option: ChartOption;
  height?: number;
  testId?: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<{
    setOption(o: ChartOption, notMerge: boolean): void;
    resize(): void;
    dispose(): void;
  }>();
  useEffect(() => {
    let disposed = false;
    let observer: ResizeObserver | undefined;
    loadEcharts().then(({ echarts }) => {
      if (disposed || !el.current) return;
      chart.current = echarts.init(el.current, undefined, { renderer: 'svg' });
      chart.current.setOption({ animation: false, ...option }, true);
      observer = new ResizeObserver(() => chart.current?.resize());
      observer.observe(el.current);
    });
    return () => {
      disposed = true;
      observer?.disconnect();
      chart.current?.dispose();
      chart.current = undefined;
    };
  }, []);
  useEffect(() => {
    // No animation: a wall screen redraws all day, and a chart is readable the moment it appears.
    chart.current?.setOption({ animation: false, ...option }, true);
  }, [option]);
  return <div ref={el} class="chart" style={{ height: `${height}px` }} data-testid={testId} />;
}

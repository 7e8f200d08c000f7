import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** CPU time the main thread has run, in ms (Linux /proc; undefined elsewhere). */
function mainThreadCpuMs(): number | undefined {
  try {
    const [ns] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ');
    return Number(ns) / 1e6;
  } catch {
    return undefined;
  }
}

export interface LoopDelays {
  /** largest event-loop delay by the clock (perf_hooks.monitorEventLoopDelay), ms */
  maxDelayMs: number;
  p99DelayMs: number;
  /**
   * Largest CPU time the main thread ran between two ticks of a 1 ms timer, ms: the longest
   * stretch of work without a yield. Unlike the clock, it does not count time the OS gave to other
   * processes (on a busy shared machine the clock figure includes it). NaN where /proc is missing.
   */
  maxRunMs: number;
}

/**
 * Watches the event loop of this process: start() before the work, stop() after. Used where the
 * hub runs in the test's own process (startTestHub), so its loop is this loop.
 */
export class LoopWatch {
  private readonly histogram = monitorEventLoopDelay({ resolution: 5 });
  private timer: NodeJS.Timeout | undefined;
  private maxRun = 0;

  start(): void {
    this.histogram.enable();
    let last = mainThreadCpuMs();
    this.timer = setInterval(() => {
      const now = mainThreadCpuMs();
      if (now !== undefined && last !== undefined) this.maxRun = Math.max(this.maxRun, now - last);
      last = now;
    }, 1);
  }

  stop(): LoopDelays {
    clearInterval(this.timer);
    this.histogram.disable();
    return {
      maxDelayMs: this.histogram.max / 1e6,
      p99DelayMs: this.histogram.percentile(99) / 1e6,
      maxRunMs: mainThreadCpuMs() === undefined ? Number.NaN : this.maxRun,
    };
  }
}

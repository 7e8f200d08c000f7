/**
 * Every size the benchmark uses, in one place: the full run (`npm run bench`, the figures issue 16
 * asks for) and the quick run (`--quick`, part of `npm test`: the same code on tiny sizes, so the
 * benchmark cannot rot; its figures mean nothing).
 */
export interface Sizes {
  /** pause for a background load to reach its rate, or a broker to settle before reading its memory */
  settleMs: number;
  events: {
    /** publishers; the subscriber is one more connection */
    devices: number;
    /** aggregate msg/s, stepped until a broker loses messages or its p99 reaches 100 ms */
    rates: number[];
    stepSeconds: number;
    drainMs: number;
  };
  /** `repeats` blasts of `messages` readings per broker; the median rate counts */
  telemetry: { devices: number; messages: number; repeats: number };
  alerts: {
    presses: number;
    gapMs: number;
    /** telemetry msg/s in the busy phase, spread over enough devices to stay under their rate limit */
    background: number;
    /** devices sending QoS 1 events at their rate limit in the flood phase */
    floodDevices: number;
    /** rows of the CSV dry run that runs during the flood */
    importRows: number;
    /** staff clients on gh/v1/hub/# while the flood's devices send ordinary events */
    staffSubscribers: number;
  };
  /** device connections held on one node (the open-files limit may cap it; the row says so) */
  connections: number;
  /** the same paced load against one embedded node and a 2-node cluster (issue 19) */
  cluster: { devices: number; rate: number; presses: number; gapMs: number };
  growth: {
    fleets: number[];
    /** aggregate events/s at 1× */
    baseRate: number;
    multipliers: number[];
    seconds: number;
  };
}

export const FULL: Sizes = {
  settleMs: 1000,
  events: {
    devices: 100,
    rates: [
      1_000, 2_500, 5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 75_000, 100_000, 150_000, 200_000, 300_000,
      400_000,
    ],
    stepSeconds: 4,
    drainMs: 3000,
  },
  telemetry: { devices: 100, messages: 40_000, repeats: 3 },
  alerts: {
    presses: 100,
    gapMs: 100,
    background: 5_000,
    floodDevices: 20,
    importRows: 200_000,
    staffSubscribers: 100,
  },
  connections: 50_000,
  cluster: { devices: 40, rate: 1_000, presses: 100, gapMs: 100 },
  growth: { fleets: [1_000, 10_000, 50_000], baseRate: 250, multipliers: [1, 5, 10], seconds: 5 },
};

export const QUICK: Sizes = {
  settleMs: 100,
  events: { devices: 5, rates: [200, 400], stepSeconds: 0.5, drainMs: 1000 },
  telemetry: { devices: 5, messages: 500, repeats: 1 },
  alerts: { presses: 3, gapMs: 50, background: 100, floodDevices: 2, importRows: 300, staffSubscribers: 3 },
  connections: 50,
  cluster: { devices: 4, rate: 100, presses: 3, gapMs: 50 },
  growth: { fleets: [10, 20], baseRate: 50, multipliers: [1, 2], seconds: 0.5 },
};

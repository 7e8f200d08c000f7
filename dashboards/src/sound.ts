/**
 * The critical-alarm sound: a two-tone beep made with Web Audio (no audio file to bundle or fetch),
 * repeated while an unacknowledged critical alarm is on the board. Browsers may hold audio until the
 * page has been clicked once; the visual cue never depends on it.
 */
export class Siren {
  private ctx: AudioContext | undefined;
  private timer: number | undefined;

  start(): void {
    if (this.timer !== undefined) return;
    const beep = () => {
      try {
        this.ctx ??= new AudioContext();
        const ctx = this.ctx;
        void ctx.resume();
        for (const [i, f] of [880, 660].entries()) {
          const o = ctx.createOscillator();
          const g = ctx.createGain();
          o.frequency.value = f;
          g.gain.value = 0.15;
          o.connect(g).connect(ctx.destination);
          o.start(ctx.currentTime + i * 0.25);
          o.stop(ctx.currentTime + i * 0.25 + 0.2);
        }
      } catch {
        /* no audio device: the visual cue remains */
      }
    };
    beep();
    this.timer = window.setInterval(beep, 2000);
  }

  stop(): void {
    if (this.timer !== undefined) window.clearInterval(this.timer);
    this.timer = undefined;
  }
}

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const WINDOW_MS = 500;

/**
 * How late this process's event loop has been lately: the longest delay of the last two half-second
 * windows. Whatever a process times on its own loop (how long a request took, how long since a host last
 * answered) includes that delay, and under CPU contention it reaches hundreds of milliseconds; a
 * threshold that ignored it would blame a receiver for the process's own lateness.
 */
export class LoopDelay {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private readonly timer: NodeJS.Timeout;
  private previousMs = 0;
  private currentMs = 0;

  constructor() {
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.previousMs = this.currentMs;
      this.currentMs = this.histogram.max / 1e6;
      this.histogram.reset();
    }, WINDOW_MS);
    this.timer.unref();
  }

  /** The longest loop delay seen in the last 0.5–1 s, in ms (including the window still open). */
  recentMaxMs(): number {
    return Math.max(this.previousMs, this.currentMs, this.histogram.max / 1e6);
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}

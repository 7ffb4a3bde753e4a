// Flood control for one IRC connection: a token bucket (biboumi's
// throttle_limit: a burst of `capacity` lines, then `refillPerSecond`) and a
// queue that writes lines in order, each exactly once, as tokens allow.
//
// Decisions:
// - The bucket starts full, so a quiet connection can send a burst at once.
// - capacity -1 (biboumi's "no limit") or Infinity disables throttling;
//   any other capacity below 1, or a refill rate that is not positive, is a
//   configuration error (RangeError), never a silently stalled queue.
// - The queue takes a line off before writing it, so a write that throws
//   never causes the line to be sent twice. A write error surfaces from
//   push() to its caller, or goes to `onError` (default: rethrown) when a
//   timer was writing; either way the lines after it still go out.
// - clear() returns the lines it dropped so the caller can bounce them with
//   an error rather than lose them silently.
// - Timers are unref'd: a queue alone does not keep the process alive (there
//   is a socket to write to whenever the queue matters).

const EPSILON = 1e-9;

export interface TokenBucketOptions {
  capacity: number;
  refillPerSecond: number;
  now?: () => number;
}

export class TokenBucket {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly unthrottled: boolean;
  private readonly now: () => number;
  private tokens: number;
  private lastRefill: number;

  constructor(opts: TokenBucketOptions) {
    this.capacity = opts.capacity;
    this.refillPerSecond = opts.refillPerSecond;
    this.now = opts.now ?? Date.now;
    this.unthrottled = opts.capacity === -1 || opts.capacity === Infinity;
    if (!this.unthrottled) {
      if (!Number.isFinite(opts.capacity) || opts.capacity < 1) {
        throw new RangeError(`throttle capacity must be at least 1, or -1 for no limit (got ${opts.capacity})`);
      }
      if (!Number.isFinite(opts.refillPerSecond) || opts.refillPerSecond <= 0) {
        throw new RangeError(`throttle refill rate must be a positive number of lines per second (got ${opts.refillPerSecond})`);
      }
    }
    this.tokens = this.unthrottled ? Infinity : opts.capacity;
    this.lastRefill = this.now();
  }

  /** 0 if a token was taken now, else the milliseconds until one is available (nothing taken). */
  take(): number {
    if (this.unthrottled) return 0;
    const now = this.now();
    const elapsed = Math.max(0, now - this.lastRefill);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed / 1000) * this.refillPerSecond);
    this.lastRefill = now;
    // The epsilon absorbs floating-point dust (0.499 s × 2/s = 0.998000…01).
    if (this.tokens >= 1 - EPSILON) {
      this.tokens = Math.max(0, this.tokens - 1);
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) / this.refillPerSecond) * 1000 - EPSILON));
  }
}

/** Schedules `callback` after `delayMs`; returns a function that cancels it. */
export type TimerScheduler = (callback: () => void, delayMs: number) => () => void;

export const realTimers: TimerScheduler = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  timer.unref();
  return () => clearTimeout(timer);
};

/** Writes items (IRC lines, or lines with a callback) in order as the bucket allows. */
export class SendQueue<T = string> {
  private readonly lines: T[] = [];
  private cancelTimer: (() => void) | null = null;
  private draining = false;

  constructor(
    private readonly bucket: TokenBucket,
    private readonly write: (line: T) => void,
    private readonly setTimer: TimerScheduler = realTimers,
    private readonly onError: (error: unknown) => void = (error) => {
      throw error;
    },
  ) {}

  push(line: T): void {
    this.lines.push(line);
    this.drain();
  }

  /** Lines queued and not written yet. */
  pending(): number {
    return this.lines.length;
  }

  /** Drops every line not written yet and returns them, in order. */
  clear(): T[] {
    this.cancelTimer?.();
    this.cancelTimer = null;
    return this.lines.splice(0);
  }

  private drain(): void {
    // A write that pushes again (re-entrancy) only queues: this loop sends it.
    if (this.draining || this.cancelTimer) return;
    this.draining = true;
    try {
      while (this.lines.length > 0) {
        const wait = this.bucket.take();
        if (wait > 0) {
          this.schedule(wait);
          return;
        }
        this.write(this.lines.shift()!);
      }
    } catch (error) {
      // The failed line is gone (never written twice); the rest still goes out.
      if (this.lines.length > 0 && !this.cancelTimer) this.schedule(0);
      throw error;
    } finally {
      this.draining = false;
    }
  }

  private schedule(delayMs: number): void {
    this.cancelTimer = this.setTimer(() => {
      this.cancelTimer = null;
      try {
        this.drain();
      } catch (error) {
        this.onError(error);
      }
    }, delayMs);
  }
}

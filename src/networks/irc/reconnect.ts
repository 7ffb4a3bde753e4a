// When to try again after an IRC connection was lost, and how many users may
// be connecting to one server at once.
//
// Decisions:
// - Exponential backoff with "equal jitter": half the delay is fixed, the
//   other half random, so connections lost together (a server restart) do
//   not come back together, yet none retries almost at once.
// - The gate is per IRC server and counts whole registrations (TCP + TLS +
//   NICK/USER/CAP/SASL up to 001), not just sockets: servers throttle
//   registrations per address, and a ponte restart with thousands of users
//   must reach a server as a trickle, never a storm. A slot is held at most
//   `holdLimitMs` (a hung registration must not block the others forever).

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** The wait before attempt `attempt` (1 = the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A counting semaphore per key (the IRC server's host name). */
export class ConnectGate {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(
    private readonly limit: number,
    private readonly holdLimitMs = 60_000,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the connection attempt limit must be at least 1 (got ${limit})`);
  }

  /** Waits for a slot on `key`; the returned function frees it (calling it twice frees it once). */
  async acquire(key: string): Promise<() => void> {
    if ((this.active.get(key) ?? 0) >= this.limit) {
      await new Promise<void>((resolve) => {
        const queue = this.waiting.get(key) ?? [];
        queue.push(resolve);
        this.waiting.set(key, queue);
      });
    } else {
      this.active.set(key, (this.active.get(key) ?? 0) + 1);
    }
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      clearTimeout(timer);
      this.release(key);
    };
    const timer = setTimeout(release, this.holdLimitMs);
    timer.unref();
    return release;
  }

  /** Slots in use on `key` (for tests and metrics). */
  inUse(key: string): number {
    return this.active.get(key) ?? 0;
  }

  private release(key: string): void {
    const next = this.waiting.get(key)?.shift();
    if (next) {
      // The slot passes straight to the next waiter: the count stays.
      if (this.waiting.get(key)?.length === 0) this.waiting.delete(key);
      next();
      return;
    }
    const count = (this.active.get(key) ?? 1) - 1;
    if (count <= 0) this.active.delete(key);
    else this.active.set(key, count);
  }
}

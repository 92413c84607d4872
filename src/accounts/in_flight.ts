/**
 * Requests in flight per account, counted in the StateStore so that instances sharing it
 * balance over the same numbers, and so that what a crashed instance counted fades even while
 * the others keep the counters busy.
 *
 * Counts live in fixed time windows (`account:<id>:inflight:<window>`): readers read the
 * current window only, and each instance carries its own live requests into a new window the
 * first time it counts or reads in it. A crashed instance carries nothing, so its requests
 * stop counting at the next window. One expiry per counter could not do that: every other
 * instance's change would renew it.
 */
import type { StateStore } from "../state/state.ts";

/** The length of one counting window; a crashed instance's requests count until its end. */
export const IN_FLIGHT_WINDOW_MS = 60_000;

/** One request this instance counts, and the window it is counted in now. */
interface Lease {
  accountId: string;
  window: number;
}

/** The in-flight counts of every account, as this instance adds to and reads them. */
export class InFlightCounts {
  #state: StateStore;
  #now: () => number;
  #windowMs: number;
  #live = new Set<Lease>();
  #window: number;

  /** Counts in `state` with the clock `now` (epoch ms) and windows of `windowMs`. */
  constructor(state: StateStore, now: () => number, windowMs = IN_FLIGHT_WINDOW_MS) {
    this.#state = state;
    this.#now = now;
    this.#windowMs = windowMs;
    this.#window = Math.floor(now() / windowMs);
  }

  #key(accountId: string, window: number): string {
    return `account:${accountId}:inflight:${window}`;
  }

  #add(lease: Lease, by: number): Promise<number> {
    // Two windows: the counter outlives the window it counts in, never much longer.
    return this.#state.increment(this.#key(lease.accountId, lease.window), by, {
      ttlMs: 2 * this.#windowMs,
    });
  }

  /** Moves this instance's live requests into the current window when a new one began. */
  async #carry(): Promise<void> {
    const current = Math.floor(this.#now() / this.#windowMs);
    if (current === this.#window) return;
    this.#window = current;
    // Re-pointed before any await, so a request ending meanwhile lowers the new window.
    const moved = [...this.#live].filter((lease) => lease.window !== current);
    for (const lease of moved) lease.window = current;
    await Promise.all(moved.map((lease) => this.#add(lease, 1)));
  }

  /**
   * Counts one request on `accountId`; returns the function that ends it (calling it again
   * does nothing). Store failures are left to the caller of begin, swallowed by the end.
   */
  async begin(accountId: string): Promise<() => Promise<void>> {
    await this.#carry();
    const lease: Lease = { accountId, window: this.#window };
    this.#live.add(lease);
    await this.#add(lease, 1);
    let ended = false;
    return async () => {
      if (ended) return;
      ended = true;
      this.#live.delete(lease);
      await this.#add(lease, -1).catch(() => {});
    };
  }

  /** The requests in flight on `accountId` across every instance sharing the store. */
  async read(accountId: string): Promise<number> {
    await this.#carry();
    const raw = await this.#state.get(this.#key(accountId, this.#window));
    return Math.max(0, Number(raw ?? 0) || 0);
  }
}

/**
 * The one place where state that outlives a request lives: tokens, account health, usage,
 * stored Responses. Small on purpose (values with expiry, locks with expiry, counters), so an
 * embedded SQLite database and a Redis server can both back it, and several gateway instances
 * share it when it is Redis.
 *
 * Keys are plain strings with a `kind:` prefix (`account:main:cooldown`); values are strings
 * (JSON where structured). Backends own encryption and connection handling; callers only see
 * this interface and never import a backend.
 */

/** Options of StateStore.set and StateStore.increment. */
export interface ExpiryOptions {
  /** Forget the key after this many milliseconds; without it the key lives until deleted. */
  ttlMs?: number;
}

/** Shared state with expiry, locks and counters. Every method is safe to call concurrently. */
export interface StateStore {
  /** Returns the value of `key`, or undefined when it is unset or expired. */
  get(key: string): Promise<string | undefined>;
  /** Sets `key` to `value`, replacing any value and expiry it had. */
  set(key: string, value: string, options?: ExpiryOptions): Promise<void>;
  /** Removes `key`; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Takes the lock `key` for `ttlMs` unless someone holds it. Returns a token to release it
   * with, or undefined when it is held. A holder that dies loses the lock when `ttlMs` ends.
   */
  tryLock(key: string, ttlMs: number): Promise<string | undefined>;
  /** Releases the lock `key` if `token` still holds it (an expired, retaken lock is kept). */
  unlock(key: string, token: string): Promise<void>;
  /**
   * Adds `by` (default 1, may be negative) to the integer counter `key` and returns the new
   * value. A missing counter starts at 0; `ttlMs`, when given, (re)sets its expiry.
   */
  increment(key: string, by?: number, options?: ExpiryOptions): Promise<number>;
  /** What `/health` shows of the backend: its kind and whether it is reachable now. */
  describe(): StateDescription;
  /** Releases connections and files; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** The backend and its health, for /health and the status page. */
export interface StateDescription {
  backend: "memory" | "sqlite" | "redis";
  /** False while a remote backend is unreachable and a local fallback serves. */
  connected: boolean;
}

interface MemoryEntry {
  value: string;
  /** Epoch ms after which the entry is gone; undefined for no expiry. */
  expiresAt?: number;
}

/** A StateStore in this process's memory: for tests and for parts that need no persistence. */
export class MemoryState implements StateStore {
  #entries = new Map<string, MemoryEntry>();
  #now: () => number;

  /** Makes an empty store; `now` is the clock in epoch milliseconds. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #live(key: string): MemoryEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #expiry(options?: ExpiryOptions): number | undefined {
    return options?.ttlMs === undefined ? undefined : this.#now() + options.ttlMs;
  }

  /** See StateStore.get. */
  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#live(key)?.value);
  }

  /** See StateStore.set. */
  set(key: string, value: string, options?: ExpiryOptions): Promise<void> {
    this.#entries.set(key, { value, expiresAt: this.#expiry(options) });
    return Promise.resolve();
  }

  /** See StateStore.delete. */
  delete(key: string): Promise<void> {
    this.#entries.delete(key);
    return Promise.resolve();
  }

  /** See StateStore.tryLock. */
  tryLock(key: string, ttlMs: number): Promise<string | undefined> {
    if (this.#live(key)) return Promise.resolve(undefined);
    const token = crypto.randomUUID();
    this.#entries.set(key, { value: token, expiresAt: this.#now() + ttlMs });
    return Promise.resolve(token);
  }

  /** See StateStore.unlock. */
  unlock(key: string, token: string): Promise<void> {
    if (this.#live(key)?.value === token) this.#entries.delete(key);
    return Promise.resolve();
  }

  /** See StateStore.increment. */
  increment(key: string, by = 1, options?: ExpiryOptions): Promise<number> {
    const entry = this.#live(key);
    const value = (entry ? Number(entry.value) || 0 : 0) + by;
    const expiresAt = options?.ttlMs === undefined ? entry?.expiresAt : this.#expiry(options);
    this.#entries.set(key, { value: String(value), expiresAt });
    return Promise.resolve(value);
  }

  /** See StateStore.describe. */
  describe(): StateDescription {
    return { backend: "memory", connected: true };
  }

  /** See StateStore.close. */
  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }
}

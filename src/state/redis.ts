/**
 * The shared StateStore: one Redis server behind several gateway instances (STATE_URL), so they
 * share account tokens, refresh locks, cool-downs, usage and stored responses. Values are sealed
 * with AES-GCM under a key derived from STATE_SECRET, so Redis never holds a token in plaintext.
 *
 * Redis is a helper, never a dependency of a request: while it is unreachable every call goes to
 * a local fallback store, one warning is logged, describe() reports `connected: false`, and the
 * client reconnects with backoff by itself. When Redis answers again, the values this instance
 * wrote meanwhile (a token it refreshed, a cool-down it saw) are copied to it, then calls go back
 * to Redis.
 */
import { createClient } from "@redis/client";
import type { Logger } from "../log.ts";
import type { ExpiryOptions, StateDescription, StateStore } from "./state.ts";

/** Every key this gateway writes starts with this, so one Redis can hold other data too. */
export const KEY_PREFIX = "kiro-gateway:";

/** How long start-up waits for Redis before serving from the fallback. */
const DEFAULT_CONNECT_WAIT_MS = 3000;

/** A command that gets no answer within this long counts as Redis being unreachable. */
const DEFAULT_COMMAND_TIMEOUT_MS = 2000;

/** Reconnection backoff: first delay, doubled per attempt up to the cap, plus some jitter. */
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5000;

/** Fixed salt and iteration count of the key derivation: every instance derives the same key. */
const KEY_SALT = "kiro-gateway/state/aes-256-gcm/v1";
const KEY_ITERATIONS = 100_000;

/** Marks a sealed value: version, then base64 of a 12-byte IV followed by the ciphertext. */
const SEALED_PREFIX = "v1:";
const IV_BYTES = 12;

/** Releases a lock only if it still holds the caller's token (compare-and-delete). */
const UNLOCK_SCRIPT = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`;

/**
 * Adds to a counter and, when a ttl is given, (re)sets its expiry in the same step. A key that
 * holds something other than an integer counts as 0, as in the other backends.
 */
const INCREMENT_SCRIPT = `local value = redis.pcall("INCRBY", KEYS[1], ARGV[1])
if type(value) == "table" and value.err then
  local ttl = redis.call("PTTL", KEYS[1])
  value = tonumber(ARGV[1])
  redis.call("SET", KEYS[1], value)
  if ttl > 0 then redis.call("PEXPIRE", KEYS[1], ttl) end
end
if tonumber(ARGV[2]) > 0 then redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return value`;

/** A counter's value as increment leaves it in Redis: a plain integer, not sealed. */
const COUNTER_VALUE = /^-?\d+$/;

/** Seals and opens state values with AES-GCM; the key name is bound in as associated data. */
export class StateCipher {
  #key: CryptoKey;

  private constructor(key: CryptoKey) {
    this.#key = key;
  }

  /** Derives the AES-256-GCM key from `secret` (PBKDF2-SHA-256 with a fixed salt). */
  static async fromSecret(secret: string): Promise<StateCipher> {
    const encoder = new TextEncoder();
    const material = await crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      "PBKDF2",
      false,
      ["deriveKey"],
    );
    const key = await crypto.subtle.deriveKey(
      {
        name: "PBKDF2",
        hash: "SHA-256",
        salt: encoder.encode(KEY_SALT),
        iterations: KEY_ITERATIONS,
      },
      material,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
    return new StateCipher(key);
  }

  /** Encrypts `value` for storage under `key`: `v1:` and base64 of IV and ciphertext. */
  async seal(key: string, value: string): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const encoder = new TextEncoder();
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: encoder.encode(key) },
      this.#key,
      encoder.encode(value),
    );
    const bytes = new Uint8Array(IV_BYTES + sealed.byteLength);
    bytes.set(iv);
    bytes.set(new Uint8Array(sealed), IV_BYTES);
    return SEALED_PREFIX + toBase64(bytes);
  }

  /**
   * Decrypts a value sealed for `key`. Throws when it was sealed under another secret or key,
   * or was altered.
   */
  async open(key: string, sealed: string): Promise<string> {
    if (!sealed.startsWith(SEALED_PREFIX)) throw new Error("not a sealed state value");
    const bytes = fromBase64(sealed.slice(SEALED_PREFIX.length));
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: bytes.subarray(0, IV_BYTES),
        additionalData: new TextEncoder().encode(key),
      },
      this.#key,
      bytes.subarray(IV_BYTES),
    );
    return new TextDecoder().decode(plain);
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

/** A value every instance seals under its own STATE_SECRET; one that cannot open it differs. */
const CANARY_KEY = "state:secret-check";
const CANARY_VALUE = "kiro-gateway";

async function opensTo(cipher: StateCipher, sealed: string, expected: string): Promise<boolean> {
  try {
    return await cipher.open(CANARY_KEY, sealed) === expected;
  } catch {
    return false;
  }
}

/** What `doctor` learns about a Redis state store. */
export interface RedisProbe {
  /** Why it could not be reached, or undefined when it answered. */
  error?: string;
  /** Whether STATE_SECRET opens what the instances stored; undefined before any stored. */
  secretMatches?: boolean;
}

/** Connects once (no retries) and checks that Redis answers and STATE_SECRET fits; no writes. */
export async function probeRedisState(
  url: string,
  secret: string,
  timeoutMs: number,
): Promise<RedisProbe> {
  const cipher = await StateCipher.fromSecret(secret);
  const client = createClient({
    url,
    maintNotifications: "disabled",
    disableOfflineQueue: true,
    commandOptions: { timeout: timeoutMs },
    socket: { connectTimeout: timeoutMs, reconnectStrategy: false },
  });
  let failure: Error | undefined;
  client.on("error", (err: Error) => (failure ??= err));
  try {
    await client.connect();
    await client.ping();
    const stored = await client.get(KEY_PREFIX + CANARY_KEY);
    return stored === null ? {} : { secretMatches: await opensTo(cipher, stored, CANARY_VALUE) };
  } catch (err) {
    return { error: (failure ?? err as Error).message };
  } finally {
    try {
      client.destroy();
    } catch {
      // never connected
    }
  }
}

/** `redis://host:port/db` without user or password, for logs. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

/** Options of openRedisState. */
export interface RedisStateOptions {
  /** `redis://[:password@]host:port/db` or `rediss://…` (TLS). */
  url: string;
  /** STATE_SECRET: the values' encryption key is derived from it. */
  secret: string;
  /** Serves every call while Redis is unreachable; closed with this store. */
  fallback: StateStore;
  logger: Logger;
  /** How long start-up waits for a first connection before serving from the fallback. */
  connectWaitMs?: number;
  /** A command unanswered for this long fails over to the fallback. */
  commandTimeoutMs?: number;
}

type RedisClient = ReturnType<typeof createClient>;

/**
 * Opens the Redis store: derives the key, starts connecting, and waits up to `connectWaitMs`
 * for Redis. It never fails because Redis is down: it then serves from the fallback (with one
 * warning) and keeps reconnecting in the background.
 */
export async function openRedisState(options: RedisStateOptions): Promise<RedisState> {
  const cipher = await StateCipher.fromSecret(options.secret);
  const store = new RedisState(options, cipher);
  await store.started(options.connectWaitMs ?? DEFAULT_CONNECT_WAIT_MS);
  return store;
}

/** A write made to the fallback during an outage, copied to Redis when it is back. */
interface OutageWrite {
  /** Undefined for a delete. */
  value?: string;
  /** Epoch ms after which the value is gone; undefined for no expiry. */
  expiresAt?: number;
}

/** At most this many outage writes are kept for copying (the oldest are dropped first). */
const MAX_OUTAGE_WRITES = 10_000;

/** While the connection stands but Redis failed a call (too slow, refused), look this often. */
const PROBE_EVERY_MS = 1000;

/** A StateStore in Redis, sealed with AES-GCM, with a local fallback while Redis is away. */
export class RedisState implements StateStore {
  #client: RedisClient;
  #cipher: StateCipher;
  #fallback: StateStore;
  #logger: Logger;
  #where: string;
  /** True while calls go to Redis: connected, and the outage's writes copied to it. */
  #shared = false;
  /** Whether this outage was reported; one warning per outage. */
  #warned = false;
  #resuming = false;
  /** Looks again while the connection stands but Redis failed us: no "ready" event comes then. */
  #probe: ReturnType<typeof setInterval> | undefined;
  #outageWrites = new Map<string, OutageWrite>();
  #firstShared = Promise.withResolvers<void>();
  #undecryptableWarned = false;
  #closed = false;

  /** Builds the client and starts connecting; use openRedisState, which also waits. */
  constructor(options: RedisStateOptions, cipher: StateCipher) {
    this.#cipher = cipher;
    this.#fallback = options.fallback;
    this.#logger = options.logger;
    this.#where = describeRedisUrl(options.url);
    this.#client = createClient({
      url: options.url,
      // Fail fast while disconnected: the call goes to the fallback instead of waiting.
      disableOfflineQueue: true,
      // Its notices read environment variables the gateway has no permission for.
      maintNotifications: "disabled",
      commandOptions: { timeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS },
      socket: {
        connectTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
        reconnectStrategy: (attempt: number) =>
          Math.min(RECONNECT_FIRST_MS * 2 ** Math.min(attempt, 16), RECONNECT_MAX_MS) +
          Math.floor(Math.random() * RECONNECT_FIRST_MS),
      },
    });
    this.#client.on("error", (err: Error) => this.#lost(err));
    this.#client.on("ready", () => void this.#resume());
    // connect() settles only once connected; reconnection goes on by itself until close().
    this.#client.connect().catch((err: Error) => this.#lost(err));
  }

  /** Waits up to `waitMs` for the first connection; warns (once) when it did not come. */
  async started(waitMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
    });
    await Promise.race([this.#firstShared.promise, waited]);
    clearTimeout(timer);
    if (!this.#shared) this.#lost(new Error(`no connection within ${waitMs} ms`));
  }

  #lost(err: Error): void {
    if (this.#closed) return;
    this.#shared = false;
    this.#probe ??= setInterval(() => {
      if (this.#client.isReady) void this.#resume();
    }, PROBE_EVERY_MS);
    if (this.#warned) return;
    this.#warned = true;
    this.#logger.warn(
      "Redis is unreachable: serving from local state until it is back; instances do not share state meanwhile",
      { redis: this.#where, error: err.message },
    );
  }

  /**
   * Goes back to Redis: checks that it answers, copies the writes made to the fallback
   * meanwhile (what this instance refreshed or recorded is then shared), and only then sends
   * calls to it again. Writes arriving during the copy go to the fallback and are copied too.
   */
  async #resume(): Promise<void> {
    if (this.#resuming || this.#shared || this.#closed) return;
    this.#resuming = true;
    try {
      await this.#client.ping();
      await this.#checkSecret();
      const copied = new Set<string>();
      while (this.#outageWrites.size > 0) {
        const [key, write] = this.#outageWrites.entries().next().value!;
        await this.#copy(key, write);
        // A newer write to the same key may have replaced the entry during the copy.
        if (this.#outageWrites.get(key) === write) this.#outageWrites.delete(key);
        copied.add(key);
      }
      this.#shared = true;
      this.#firstShared.resolve();
      clearInterval(this.#probe);
      this.#probe = undefined;
      // Only now: until the switch, reads of these keys were still served from the fallback.
      for (const key of copied) await this.#fallback.delete(key);
      if (this.#warned) {
        this.#warned = false;
        this.#logger.info("Redis is reachable again: sharing state resumes", {
          redis: this.#where,
          copiedWrites: copied.size,
        });
      } else {
        this.#logger.info("Sharing state through Redis", { redis: this.#where });
      }
    } catch (err) {
      this.#lost(err as Error);
    } finally {
      this.#resuming = false;
    }
  }

  /**
   * Leaves a sealed known value in Redis (once, for every instance) and reads it back: an
   * instance whose STATE_SECRET differs from the others' says so at once, not at the first
   * token it cannot read.
   */
  async #checkSecret(): Promise<void> {
    const key = KEY_PREFIX + CANARY_KEY;
    await this.#client.set(key, await this.#cipher.seal(CANARY_KEY, CANARY_VALUE), { NX: true });
    const stored = await this.#client.get(key);
    if (stored === null || await opensTo(this.#cipher, stored, CANARY_VALUE)) return;
    this.#cannotDecrypt(CANARY_KEY);
  }

  #cannotDecrypt(key: string): void {
    if (this.#undecryptableWarned) return;
    this.#undecryptableWarned = true;
    this.#logger.error(
      "Cannot decrypt a value in Redis: every instance must use the same STATE_SECRET; such values are ignored",
      { redis: this.#where, key },
    );
  }

  async #copy(key: string, write: OutageWrite): Promise<void> {
    const ttlMs = write.expiresAt === undefined ? undefined : write.expiresAt - Date.now();
    if (write.value === undefined || (ttlMs !== undefined && ttlMs <= 0)) {
      await this.#client.del(KEY_PREFIX + key);
      return;
    }
    const sealed = await this.#cipher.seal(key, write.value);
    await this.#client.set(
      KEY_PREFIX + key,
      sealed,
      ttlMs === undefined ? undefined : { PX: Math.ceil(ttlMs) },
    );
  }

  /** Remembers a write made to the fallback, to copy it to Redis when it is back. */
  #remember(key: string, write: OutageWrite): void {
    this.#outageWrites.delete(key); // re-inserted last: the copy keeps the order of writes
    this.#outageWrites.set(key, write);
    if (this.#outageWrites.size > MAX_OUTAGE_WRITES) {
      const oldest = this.#outageWrites.keys().next().value!;
      this.#outageWrites.delete(oldest);
    }
  }

  /** Runs `remote` on Redis when it is shared, else (or when it fails to answer) `local`. */
  async #either<T>(
    remote: (client: RedisClient) => Promise<T>,
    local: () => Promise<T>,
  ): Promise<T> {
    if (this.#shared) {
      try {
        return await remote(this.#client);
      } catch (err) {
        // Refusals count too (out of memory, a read-only replica): serving comes first.
        this.#lost(err as Error);
      }
    }
    return await local();
  }

  /** See StateStore.get. */
  get(key: string): Promise<string | undefined> {
    return this.#either(async (client) => {
      const sealed = await client.get(KEY_PREFIX + key);
      if (sealed === null) return undefined;
      if (COUNTER_VALUE.test(sealed)) return sealed; // a counter: integers are not secret
      try {
        return await this.#cipher.open(key, sealed);
      } catch {
        this.#cannotDecrypt(key);
        return undefined;
      }
    }, () => this.#fallback.get(key));
  }

  /** See StateStore.set. */
  set(key: string, value: string, options?: ExpiryOptions): Promise<void> {
    const ttlMs = options?.ttlMs;
    if (ttlMs !== undefined && ttlMs <= 0) return this.delete(key);
    return this.#either(async (client) => {
      const sealed = await this.#cipher.seal(key, value);
      await client.set(
        KEY_PREFIX + key,
        sealed,
        ttlMs === undefined ? undefined : { PX: Math.ceil(ttlMs) },
      );
    }, () => {
      this.#remember(key, {
        value,
        expiresAt: ttlMs === undefined ? undefined : Date.now() + ttlMs,
      });
      return this.#fallback.set(key, value, options);
    });
  }

  /** See StateStore.delete. */
  delete(key: string): Promise<void> {
    return this.#either(async (client) => {
      await client.del(KEY_PREFIX + key);
    }, () => {
      this.#remember(key, {});
      return this.#fallback.delete(key);
    });
  }

  /** See StateStore.tryLock. */
  tryLock(key: string, ttlMs: number): Promise<string | undefined> {
    return this.#either(async (client) => {
      const token = crypto.randomUUID();
      const taken = await client.set(KEY_PREFIX + key, token, {
        NX: true,
        PX: Math.max(1, Math.ceil(ttlMs)),
      });
      return taken === null ? undefined : token;
    }, () => this.#fallback.tryLock(key, ttlMs));
  }

  /** See StateStore.unlock. Also releases a lock taken from the fallback during an outage. */
  async unlock(key: string, token: string): Promise<void> {
    await this.#fallback.unlock(key, token);
    await this.#either(async (client) => {
      await client.eval(UNLOCK_SCRIPT, { keys: [KEY_PREFIX + key], arguments: [token] });
    }, () => Promise.resolve());
  }

  /** See StateStore.increment. Counters are plain integers in Redis (INCRBY needs them so). */
  increment(key: string, by = 1, options?: ExpiryOptions): Promise<number> {
    const ttlMs = options?.ttlMs === undefined ? 0 : Math.max(1, Math.ceil(options.ttlMs));
    return this.#either(async (client) => {
      const value = await client.eval(INCREMENT_SCRIPT, {
        keys: [KEY_PREFIX + key],
        arguments: [String(Math.trunc(by)), String(ttlMs)],
      });
      return Number(value);
    }, () => this.#fallback.increment(key, by, options));
  }

  /** See StateStore.describe. */
  describe(): StateDescription {
    return { backend: "redis", connected: this.#shared };
  }

  /** See StateStore.close. Stops reconnecting and closes the fallback. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#shared = false;
    clearInterval(this.#probe);
    this.#firstShared.resolve();
    try {
      this.#client.destroy();
    } catch {
      // already closed
    }
    await this.#fallback.close();
  }
}

/**
 * Chooses and opens the gateway's StateStore from the configuration, once, in app.ts: the
 * embedded SQLite database in STATE_DIR by default, Redis when STATE_URL is set (several
 * instances), memory in demo mode.
 */
import type { Config } from "../config.ts";
import { type Logger, silentLogger } from "../log.ts";
import { openSqliteState } from "./sqlite.ts";
import { MemoryState, type StateStore } from "./state.ts";

/** Options of openStateStore. */
export interface OpenStateOptions {
  /** The clock in epoch milliseconds, for expiry. */
  now?: () => number;
  /** Where the Redis store reports losing and regaining its server. */
  logger?: Logger;
}

/**
 * Opens the store the configuration asks for. Throws (NotCapable, or an SQLite error) when
 * STATE_DIR cannot be created or opened; main.ts turns a permission error into a hint.
 */
export async function openStateStore(
  config: Readonly<Config>,
  options: OpenStateOptions = {},
): Promise<StateStore> {
  if (config.demo) return new MemoryState(options.now);
  if (config.stateUrl !== undefined && config.stateSecret !== undefined) {
    // Loaded only with STATE_URL: the Redis client adds about 25 MB to every process.
    const { openRedisState } = await import("./redis.ts");
    // The fallback is memory, not STATE_DIR: shared tokens never land on disk unencrypted.
    return await openRedisState({
      url: config.stateUrl,
      secret: config.stateSecret,
      fallback: new MemoryState(options.now),
      logger: options.logger ?? silentLogger(),
    });
  }
  return openSqliteState(config.stateDir, options.now);
}

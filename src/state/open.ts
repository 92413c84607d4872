/**
 * Chooses and opens the gateway's StateStore from the configuration, once, in app.ts: the
 * embedded SQLite database in STATE_DIR by default, memory in demo mode.
 */
import type { Config } from "../config.ts";
import { openSqliteState } from "./sqlite.ts";
import { MemoryState, type StateStore } from "./state.ts";

/** Options of openStateStore. */
export interface OpenStateOptions {
  /** The clock in epoch milliseconds, for expiry. */
  now?: () => number;
}

/**
 * Opens the store the configuration asks for. Throws (NotCapable, or an SQLite error) when
 * STATE_DIR cannot be created or opened; main.ts turns a permission error into a hint.
 */
export function openStateStore(
  config: Readonly<Config>,
  options: OpenStateOptions = {},
): Promise<StateStore> {
  if (config.demo) return Promise.resolve(new MemoryState(options.now));
  return Promise.resolve(openSqliteState(config.stateDir, options.now));
}

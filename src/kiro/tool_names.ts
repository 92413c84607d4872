/**
 * Tool names and tool-use ids that Kiro accepts. Kiro (like the Bedrock Converse API behind
 * it) takes names matching `^[a-zA-Z0-9_-]{1,64}$`; a tool-use id with other characters or
 * more than 64 of them fails the request (spec §2.9). Anything else gets a deterministic alias
 * for the upstream call, and replies are mapped back to the client's names.
 */
import { createHash } from "node:crypto";

/** The names and ids Kiro accepts. */
export const KIRO_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
/** The longest name or id Kiro accepts. */
export const KIRO_NAME_MAX_LENGTH = 64;

const HASH_HEX = 8;
/** Characters of the readable part of an alias: 64 minus `_` and 8 hex. */
const ALIAS_TEXT_LENGTH = KIRO_NAME_MAX_LENGTH - 1 - HASH_HEX;

/** Whether Kiro accepts `name` as a tool name or tool-use id as it is. */
export function isKiroName(name: string): boolean {
  return KIRO_NAME_PATTERN.test(name);
}

/**
 * The alias of a tool name Kiro does not accept: its characters outside `[A-Za-z0-9_-]`
 * replaced by `_`, shortened to its first and last 27 characters when longer than 55, then
 * `_` and 8 hex of SHA-256 of the original name (at most 64 characters). `attempt` > 0 mixes a
 * counter into the hash, to step around a collision.
 */
export function aliasToolName(name: string, attempt = 0): string {
  const clean = name.replace(/[^a-zA-Z0-9_-]/g, "_");
  const half = Math.floor((ALIAS_TEXT_LENGTH - 1) / 2);
  const text = clean.length > ALIAS_TEXT_LENGTH
    ? `${clean.slice(0, half)}_${clean.slice(-half)}`
    : clean;
  return `${text}_${sha256Hex(attempt === 0 ? name : `${name}#${attempt}`, HASH_HEX)}`;
}

/**
 * The alias of a tool-use id Kiro does not accept: `tooluse_` and 32 hex of SHA-256 of the id
 * (the same id always gets the same alias, so a call and its result stay paired).
 */
export function aliasToolUseId(id: string, attempt = 0): string {
  return `tooluse_${sha256Hex(attempt === 0 ? id : `${id}#${attempt}`, 32)}`;
}

/** A two-way map between the client's tool names and ids and the ones sent to Kiro. */
export class ToolNameMap {
  #names = new TwoWayMap(aliasToolName);
  #ids = new TwoWayMap(aliasToolUseId);

  /** The name to send to Kiro for the client's tool `name` (an alias when needed). */
  toKiro(name: string): string {
    return this.#names.forward(name);
  }

  /** The client's name for a tool name Kiro used; unknown names come back unchanged. */
  fromKiro(name: string): string {
    return this.#names.back(name);
  }

  /** The id to send to Kiro for the client's tool-use `id` (an alias when needed). */
  toKiroId(id: string): string {
    return this.#ids.forward(id);
  }

  /** The client's id for a tool-use id sent to Kiro; unknown ids come back unchanged. */
  fromKiroId(id: string): string {
    return this.#ids.back(id);
  }

  /** Whether any name was aliased. */
  get hasAliases(): boolean {
    return this.#names.aliased > 0;
  }
}

class TwoWayMap {
  #toKiro = new Map<string, string>();
  #fromKiro = new Map<string, string>();
  #alias: (value: string, attempt: number) => string;
  aliased = 0;

  constructor(alias: (value: string, attempt: number) => string) {
    this.#alias = alias;
  }

  forward(value: string): string {
    const known = this.#toKiro.get(value);
    if (known !== undefined) return known;
    let sent = value;
    if (!isKiroName(value) || this.#fromKiro.has(value)) {
      let attempt = 0;
      do sent = this.#alias(value, attempt++); while (this.#fromKiro.has(sent));
      this.aliased++;
    }
    this.#toKiro.set(value, sent);
    this.#fromKiro.set(sent, value);
    return sent;
  }

  back(sent: string): string {
    return this.#fromKiro.get(sent) ?? sent;
  }
}

function sha256Hex(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/**
 * Model ids (spec §3): client names are followed through aliases, normalized to Kiro's dotted
 * ids and passed through when unknown (Kiro is the judge). The catalogue comes from
 * ListAvailableModels on the management host, cached for an hour, with a built-in fallback.
 */
import type { Config } from "../config.ts";
import { GatewayError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ModelInfo } from "../core/backend.ts";
import { kiroUserAgents, machineFingerprint, managementBaseUrl } from "./endpoints.ts";
import { type NativeReasoning, parseNativeReasoning } from "./native_reasoning.ts";

/** The catalogue used when the live list cannot be loaded (spec §3.1 baseline). */
export const FALLBACK_MODEL_IDS: readonly string[] = [
  "auto",
  "claude-sonnet-4",
  "claude-sonnet-4.5",
  "claude-sonnet-4.6",
  "claude-haiku-4.5",
  "claude-opus-4.5",
  "claude-opus-4.6",
  "claude-opus-4.7",
  "deepseek-3.2",
  "glm-5",
  "minimax-m2.1",
  "minimax-m2.5",
  "qwen3-coder-next",
];

/** Default aliases: Cursor has its own model named `auto`, so Kiro's is offered as `auto-kiro`. */
export const DEFAULT_MODEL_ALIASES: Readonly<Record<string, string>> = { "auto-kiro": "auto" };
/** Catalogue ids not shown in the model list. */
export const DEFAULT_HIDDEN_FROM_LIST: readonly string[] = ["auto"];
/** Context window of a model without published limits. */
export const DEFAULT_CONTEXT_WINDOW = 200_000;
/** Context windows known beyond the default (Kiro raised these on 2026-03-24, spec §3.5). */
export const KNOWN_CONTEXT_WINDOWS: Readonly<Record<string, number>> = {
  "claude-sonnet-4.6": 1_000_000,
  "claude-opus-4.6": 1_000_000,
};
/** How long a loaded catalogue is used before it is fetched again. */
export const MODEL_CACHE_TTL_MS = 3_600_000;
/** How long the fallback is used after a failed load before trying again. */
export const MODEL_RETRY_AFTER_FAILURE_MS = 300_000;
const LIST_TIMEOUT_MS = 30_000;
const MAX_LIST_PAGES = 20;

const FAMILY = "(haiku|sonnet|opus)";
const CONTEXT_MARKER = /\[\d+[mk]\]$/i;
const P1_STANDARD_WITH_MINOR = new RegExp(
  `^claude-${FAMILY}-(\\d+)-(\\d{1,2})(?:-(?:\\d+|latest))?$`,
);
const P2_STANDARD = new RegExp(`^claude-${FAMILY}-(\\d+)(?:-\\d{8})?$`);
const P3_LEGACY = new RegExp(`^claude-(\\d+)-(\\d+)-${FAMILY}(?:-(?:\\d+|latest))?$`);
const P4_DOTTED_DATE = new RegExp(`^(claude-(?:\\d+\\.\\d+-)?${FAMILY}(?:-\\d+\\.\\d+)?)-\\d{8}$`);
const P5_INVERTED = new RegExp(`^claude-(\\d+)\\.(\\d+)-${FAMILY}-(.+)$`);

/**
 * Turns a client model name into a Kiro id (spec §3.2): strips a trailing `[1m]`-style marker,
 * then tries the five Claude name shapes on the lower-cased name; no match returns the name
 * as given (without the marker).
 */
export function normalizeModelName(name: string): string {
  if (name === "") return name;
  const bare = name.replace(CONTEXT_MARKER, "");
  const lower = bare.toLowerCase();
  let m = P1_STANDARD_WITH_MINOR.exec(lower);
  if (m) return `claude-${m[1]}-${m[2]}.${m[3]}`;
  m = P2_STANDARD.exec(lower);
  if (m) return `claude-${m[1]}-${m[2]}`;
  m = P3_LEGACY.exec(lower);
  if (m) return `claude-${m[1]}.${m[2]}-${m[3]}`;
  m = P4_DOTTED_DATE.exec(lower);
  if (m) return m[1] as string;
  m = P5_INVERTED.exec(lower);
  if (m) return `claude-${m[3]}-${m[1]}.${m[2]}`;
  return bare;
}

/** How a model name was resolved. */
export interface ResolvedModel {
  /** The id sent to Kiro (never an alias name). */
  modelId: string;
  /** `cache` when the id is in the catalogue, `passthrough` when Kiro will judge it. */
  source: "cache" | "passthrough";
  /** Context window in tokens. */
  contextWindow: number;
  /**
   * What the model's advertised `additionalModelRequestFieldsSchema` offers for native
   * reasoning; undefined when it advertises none (thinking then uses tags).
   */
  nativeReasoning?: NativeReasoning;
}

/** What the catalogue needs to call ListAvailableModels. */
export interface ModelAccess {
  accessToken: string;
  profileArn: string;
  apiRegion: string;
}

/** Options of a ModelCatalog. */
export interface ModelCatalogOptions {
  /** Returns a valid access token, the profile ARN and the API region. */
  fetchAccess: () => Promise<ModelAccess>;
  config: Readonly<Config>;
  fetch?: typeof fetch;
  /** The clock in epoch milliseconds. */
  now?: () => number;
  logger: Logger;
  /** Alias name → target name; defaults to DEFAULT_MODEL_ALIASES. */
  aliases?: Readonly<Record<string, string>>;
  /** Ids hidden from list(); defaults to DEFAULT_HIDDEN_FROM_LIST. */
  hiddenFromList?: readonly string[];
}

interface CatalogEntry {
  id: string;
  displayName: string;
  maxInputTokens?: number;
  maxOutputTokens?: number;
  /** The advertised `additionalModelRequestFieldsSchema`, as Kiro sent it. */
  requestFieldsSchema?: unknown;
  nativeReasoning?: NativeReasoning;
}

/** Resolves client model names and lists models, from Kiro's live list or the fallback. */
export class ModelCatalog {
  #options: ModelCatalogOptions;
  #fetch: typeof fetch;
  #now: () => number;
  #aliases: Readonly<Record<string, string>>;
  #hidden: ReadonlySet<string>;
  #entries: Map<string, CatalogEntry>;
  #source: "fallback" | "live" = "fallback";
  #loadedAt: number | undefined;
  #validForMs = 0;
  #loading: Promise<void> | undefined;

  constructor(options: ModelCatalogOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
    this.#now = options.now ?? Date.now;
    this.#aliases = options.aliases ?? DEFAULT_MODEL_ALIASES;
    this.#hidden = new Set(options.hiddenFromList ?? DEFAULT_HIDDEN_FROM_LIST);
    this.#entries = fallbackEntries();
  }

  /** When the catalogue was last loaded or failed to load (epoch ms); undefined before that. */
  get loadedAt(): number | undefined {
    return this.#loadedAt;
  }

  /** Where the current catalogue came from. */
  get source(): "fallback" | "live" {
    return this.#source;
  }

  /**
   * Resolves a client model name against the current catalogue: aliases first (followed
   * repeatedly), then normalization. Throws an `invalid_request` GatewayError when the
   * aliases form a cycle.
   */
  resolve(name: string): ResolvedModel {
    const normalized = normalizeModelName(this.#followAliases(name));
    const entry = this.#entries.get(normalized);
    const resolved: ResolvedModel = {
      modelId: normalized,
      source: entry ? "cache" : "passthrough",
      contextWindow: contextWindowOf(normalized, entry),
    };
    if (entry?.nativeReasoning) resolved.nativeReasoning = entry.nativeReasoning;
    return resolved;
  }

  /** Lists the models clients may use: catalogue ids minus hidden ones plus aliases, sorted. */
  async list(): Promise<ModelInfo[]> {
    await this.load();
    const models = new Map<string, ModelInfo>();
    for (const entry of this.#entries.values()) {
      if (this.#hidden.has(entry.id)) continue;
      models.set(entry.id, toModelInfo(entry.id, entry));
    }
    for (const alias of Object.keys(this.#aliases)) {
      let target: ResolvedModel;
      try {
        target = this.resolve(alias);
      } catch {
        continue; // a cyclic alias cannot be used, so it is not offered
      }
      const entry = this.#entries.get(target.modelId);
      models.set(alias, { ...toModelInfo(alias, entry), displayName: alias });
    }
    return [...models.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Loads the live catalogue unless a fresh one is cached; only one load runs at a time. Never
   * rejects: a failed load keeps the fallback list and is retried after five minutes.
   */
  load(): Promise<void> {
    const fresh = this.#loadedAt !== undefined && this.#now() - this.#loadedAt < this.#validForMs;
    if (fresh) return Promise.resolve();
    this.#loading ??= this.#fetchCatalog().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  #followAliases(name: string): string {
    const seen = [name];
    let current = name;
    while (Object.hasOwn(this.#aliases, current)) {
      current = this.#aliases[current] as string;
      if (seen.includes(current)) {
        throw new GatewayError(
          "invalid_request",
          `Cannot resolve model "${name}": model aliases form a cycle (${
            [...seen, current].join(" -> ")
          })`,
          { param: "model" },
        );
      }
      seen.push(current);
    }
    return current;
  }

  async #fetchCatalog(): Promise<void> {
    const logger = this.#options.logger;
    try {
      const entries = await this.#fetchLive();
      this.#entries = entries;
      this.#source = "live";
      this.#validForMs = MODEL_CACHE_TTL_MS;
      logger.debug("Loaded the Kiro model list", { models: entries.size });
    } catch (err) {
      this.#entries = fallbackEntries();
      this.#source = "fallback";
      this.#validForMs = MODEL_RETRY_AFTER_FAILURE_MS;
      logger.warn("Cannot load the Kiro model list; using the built-in list", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
    this.#loadedAt = this.#now();
  }

  async #fetchLive(): Promise<Map<string, CatalogEntry>> {
    const access = await this.#options.fetchAccess();
    const base = managementBaseUrl(access.apiRegion, this.#options.config.upstream);
    const agents = kiroUserAgents(machineFingerprint());
    const entries = new Map<string, CatalogEntry>();
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const url = new URL(`${base.replace(/\/+$/, "")}/ListAvailableModels`);
      url.searchParams.set("origin", "AI_EDITOR");
      if (access.profileArn) url.searchParams.set("profileArn", access.profileArn);
      if (nextToken) url.searchParams.set("nextToken", nextToken);
      const body = await this.#getJson(url, {
        authorization: `Bearer ${access.accessToken}`,
        accept: "application/json",
        "user-agent": agents.userAgent,
        "x-amz-user-agent": agents.amzUserAgent,
      });
      for (const entry of parseModels(body)) entries.set(entry.id, entry);
      nextToken = isRecord(body) && typeof body.nextToken === "string" && body.nextToken !== ""
        ? body.nextToken
        : undefined;
      if (!nextToken) break;
    }
    if (entries.size === 0) throw new Error("ListAvailableModels returned no models");
    return entries;
  }

  async #getJson(url: URL, headers: Record<string, string>): Promise<unknown> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), LIST_TIMEOUT_MS);
    try {
      const res = await this.#fetch(url, { headers, signal: controller.signal });
      const text = await res.text();
      if (!res.ok) throw new Error(`ListAvailableModels answered HTTP ${res.status}`);
      try {
        return JSON.parse(text);
      } catch {
        throw new Error("ListAvailableModels answered with a body that is not JSON");
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

function parseModels(body: unknown): CatalogEntry[] {
  if (!isRecord(body) || !Array.isArray(body.models)) return [];
  const entries: CatalogEntry[] = [];
  for (const model of body.models) {
    if (!isRecord(model) || typeof model.modelId !== "string" || model.modelId === "") continue;
    const limits = isRecord(model.tokenLimits) ? model.tokenLimits : {};
    const entry: CatalogEntry = {
      id: model.modelId,
      displayName: typeof model.modelName === "string" ? model.modelName : model.modelId,
      maxInputTokens: positiveNumber(limits.maxInputTokens),
      maxOutputTokens: positiveNumber(limits.maxOutputTokens),
    };
    const schema = model.additionalModelRequestFieldsSchema;
    const native = parseNativeReasoning(schema);
    if (native) {
      entry.requestFieldsSchema = schema;
      entry.nativeReasoning = native;
    }
    entries.push(entry);
  }
  return entries;
}

function fallbackEntries(): Map<string, CatalogEntry> {
  return new Map(FALLBACK_MODEL_IDS.map((id) => [id, { id, displayName: id }]));
}

function contextWindowOf(id: string, entry: CatalogEntry | undefined): number {
  return entry?.maxInputTokens ?? KNOWN_CONTEXT_WINDOWS[id] ?? DEFAULT_CONTEXT_WINDOW;
}

function toModelInfo(id: string, entry: CatalogEntry | undefined): ModelInfo {
  const info: ModelInfo = {
    id,
    displayName: entry?.displayName ?? id,
    contextWindow: contextWindowOf(entry?.id ?? id, entry),
  };
  if (entry?.maxOutputTokens !== undefined) info.maxOutputTokens = entry.maxOutputTokens;
  return info;
}

function positiveNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

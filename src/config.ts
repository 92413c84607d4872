/**
 * Configuration: CLI flags over the process environment over `.env` over defaults, validated
 * with zod into one frozen Config. Variables are read one by one by name, so the gateway runs
 * with `--allow-env` limited to the names in ENV_VARS.
 */
import { parseArgs, parseEnv } from "node:util";
import { z } from "zod";
import type { LogFormat, LogLevel } from "./log.ts";

/** The gateway's version, printed by `--version` and `/health`. */
export const VERSION = "0.1.0";

/** How thinking text is delivered (spec §8.4). */
export type ReasoningHandling = "as_reasoning_content" | "remove" | "pass" | "strip_tags";

/** When request and response bodies are captured to DEBUG_DIR. */
export type DebugMode = "off" | "errors" | "all";

/** Which image URLs the dialects fetch: public hosts only, any host, or none. */
export type ImageUrlFetch = "public" | "all" | "off";

/** How the account pool picks an account (ACCOUNT_STRATEGY). */
export type AccountStrategy = "sticky" | "balanced";

/** Base URLs of the Kiro upstreams; each replaces one default when set. */
export interface UpstreamOverrides {
  /** Replaces `https://runtime.{region}.kiro.dev` (generateAssistantResponse). */
  api?: string;
  /** Replaces `https://management.{region}.kiro.dev` (ListAvailableModels, profiles). */
  management?: string;
  /** Replaces `https://prod.{region}.auth.desktop.kiro.dev` (refreshToken). */
  auth?: string;
  /** Replaces `https://oidc.{region}.amazonaws.com` (token). */
  oidc?: string;
  /** Replaces `https://q.{region}.amazonaws.com` (mcp: web search). */
  q?: string;
}

/**
 * WEB_SEARCH: `on` serves the web search clients ask for (Anthropic server tools, chat
 * `web_search_options`, Responses `web_search` tools); `auto` also offers it on every chat
 * request; `off` refuses requests that ask for it.
 */
export type WebSearchMode = "on" | "auto" | "off";

/** The gateway's validated configuration. */
export interface Config {
  host: string;
  port: number;
  /** The key clients must present. */
  proxyApiKey: string;
  /** True when no PROXY_API_KEY was set and a random key was made for this run. */
  proxyApiKeyGenerated: boolean;
  refreshToken?: string;
  credsFile?: string;
  cliDbFile?: string;
  sqliteReadonly: boolean;
  profileArn?: string;
  /** SSO/auth region, and the API region of last resort. */
  region: string;
  apiRegion?: string;
  upstream: UpstreamOverrides;
  /** Outbound proxy for every Kiro call (VPN_PROXY_URL), with a scheme. */
  proxyUrl?: string;
  toolDescriptionMaxLength: number;
  truncationRecovery: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  firstTokenTimeoutMs: number;
  firstTokenMaxRetries: number;
  streamingReadTimeoutMs: number;
  debugMode: DebugMode;
  debugDir: string;
  debugKeep: number;
  fakeReasoning: boolean;
  fakeReasoningMaxTokens: number;
  fakeReasoningBudgetCap: number;
  fakeReasoningHandling: ReasoningHandling;
  fakeReasoningInitialBufferSize: number;
  maxPayloadBytes: number;
  autoTrimPayload: boolean;
  /** IMAGE_URL_FETCH: `public` refuses loopback, private and link-local hosts (SSRF guard). */
  imageUrlFetch: ImageUrlFetch;
  /** STATE_DIR: the folder of the embedded state database (account health, stored responses). */
  stateDir: string;
  /** STATE_URL: a Redis server (`redis://` or `rediss://`) that several instances share. */
  stateUrl?: string;
  /** STATE_SECRET: the key of the values stored in Redis is derived from it; set with stateUrl. */
  stateSecret?: string;
  /** KIRO_ACCOUNTS_FILE: a JSON list of accounts; without it the one login above is the pool. */
  accountsFile?: string;
  /** ACCOUNT_STRATEGY: keep one account until it fails, or spread requests over them. */
  accountStrategy: AccountStrategy;
  /** ACCOUNT_COOLDOWN_SECONDS: the first cool-down of a failed account, doubled per failure. */
  accountCooldownMs: number;
  /** How many recent requests /status.json and /status keep (JOURNAL_SIZE). */
  journalSize: number;
  /**
   * How long open replies may still run after SIGTERM or SIGINT, in milliseconds
   * (SHUTDOWN_GRACE_SECONDS); those still open then end with an in-band error.
   */
  shutdownGraceMs: number;
  /** WEB_SEARCH: when the gateway searches the web through Kiro's MCP endpoint. */
  webSearch: WebSearchMode;
  /** How many stored Responses are kept (RESPONSES_STORE_MAX_ENTRIES); the oldest go first. */
  responsesStoreMaxEntries: number;
  /** How long a stored Response is kept, in milliseconds (RESPONSES_STORE_MAX_AGE seconds). */
  responsesStoreMaxAgeMs: number;
  /** Serve a built-in scripted upstream instead of Kiro (`--demo`). */
  demo: boolean;
  /** The `.env` path that was read, or would have been. */
  envFile: string;
}

/** Every environment variable the gateway reads, for `--allow-env` and `.env.example`. */
export const ENV_VARS = [
  "SERVER_HOST",
  "SERVER_PORT",
  "PROXY_API_KEY",
  "REFRESH_TOKEN",
  "KIRO_CREDS_FILE",
  "KIRO_CLI_DB_FILE",
  "SQLITE_READONLY",
  "PROFILE_ARN",
  "KIRO_REGION",
  "KIRO_API_REGION",
  "KIRO_API_URL",
  "KIRO_MANAGEMENT_URL",
  "KIRO_AUTH_URL",
  "KIRO_OIDC_URL",
  "VPN_PROXY_URL",
  "TOOL_DESCRIPTION_MAX_LENGTH",
  "TRUNCATION_RECOVERY",
  "LOG_LEVEL",
  "LOG_FORMAT",
  "FIRST_TOKEN_TIMEOUT",
  "FIRST_TOKEN_MAX_RETRIES",
  "STREAMING_READ_TIMEOUT",
  "DEBUG_MODE",
  "DEBUG_DIR",
  "DEBUG_KEEP",
  "FAKE_REASONING",
  "FAKE_REASONING_MAX_TOKENS",
  "FAKE_REASONING_BUDGET_CAP",
  "FAKE_REASONING_HANDLING",
  "FAKE_REASONING_INITIAL_BUFFER_SIZE",
  "KIRO_MAX_PAYLOAD_BYTES",
  "AUTO_TRIM_PAYLOAD",
  "IMAGE_URL_FETCH",
  "RESPONSES_STORE_MAX_ENTRIES",
  "RESPONSES_STORE_MAX_AGE",
  "WEB_SEARCH",
  "KIRO_Q_URL",
  "KIRO_ACCOUNTS_FILE",
  "ACCOUNT_STRATEGY",
  "ACCOUNT_COOLDOWN_SECONDS",
  "STATE_DIR",
  "STATE_URL",
  "STATE_SECRET",
  "JOURNAL_SIZE",
  "SHUTDOWN_GRACE_SECONDS",
] as const;

/** A variable name the gateway reads. */
export type EnvVar = (typeof ENV_VARS)[number];

/** Invalid configuration: one line per problem; main.ts prints them and exits with code 2. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.problems = problems;
  }
}

/** What the command line asked for. */
export interface CliCommand {
  command: "serve" | "doctor" | "help" | "version";
  host?: string;
  port?: string;
  envFile?: string;
  demo: boolean;
}

/** Parses the command line; unknown flags throw a ConfigError naming them. */
export function parseCli(args: readonly string[]): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: "string", short: "H" },
        port: { type: "string", short: "p" },
        "env-file": { type: "string" },
        demo: { type: "boolean" },
        version: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new ConfigError([`Invalid command line: ${(err as Error).message}; see --help`]);
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;
  if (rest.length > 0 || (first !== undefined && first !== "doctor" && first !== "serve")) {
    throw new ConfigError([
      `Invalid command line: unknown command "${positionals.join(" ")}"; see --help`,
    ]);
  }
  const command = values.help
    ? "help"
    : values.version
    ? "version"
    : first === "doctor"
    ? "doctor"
    : "serve";
  return {
    command,
    host: values.host,
    port: values.port,
    envFile: values["env-file"],
    demo: values.demo ?? false,
  };
}

/** The `--help` text. */
export const HELP_TEXT =
  `Kiro Gateway ${VERSION}: OpenAI and Anthropic APIs for your Kiro subscription

Usage:
  kiro-gateway [serve] [options]   start the gateway
  kiro-gateway doctor [options]    check configuration, credentials and upstream reachability

Options:
  -H, --host HOST       listen address (SERVER_HOST, default 127.0.0.1)
  -p, --port PORT       listen port, 0 for any free port (SERVER_PORT, default 8000)
      --env-file PATH   read variables from PATH instead of ./.env
      --demo            serve a built-in scripted upstream; no Kiro credentials needed
  -v, --version         print the version
  -h, --help            print this help

Every variable is documented in .env.example and the README.`;

const BOOL_TRUE = new Set(["true", "1", "yes", "on", "enabled"]);
const BOOL_FALSE = new Set(["false", "0", "no", "off", "disabled"]);

const bool = z.string().transform((raw, ctx) => {
  const v = raw.trim().toLowerCase();
  if (BOOL_TRUE.has(v)) return true;
  if (BOOL_FALSE.has(v)) return false;
  ctx.addIssue({ code: "custom", message: `expected true or false, got "${raw}"` });
  return z.NEVER;
});

function integer(min: number, max: number, what = "a whole number") {
  return z.string().transform((raw, ctx) => {
    const v = raw.trim();
    const n = Number(v);
    if (v === "" || !Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({
        code: "custom",
        message: `expected ${what} from ${min} to ${max}, got "${raw}"`,
      });
      return z.NEVER;
    }
    return n;
  });
}

function secondsAsMs(min: number, max: number) {
  return z.string().transform((raw, ctx) => {
    const n = Number(raw.trim());
    if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      ctx.addIssue({
        code: "custom",
        message: `expected a number of seconds from ${min} to ${max}, got "${raw}"`,
      });
      return z.NEVER;
    }
    return Math.round(n * 1000);
  });
}

function oneOf<T extends string>(values: readonly T[], aliases: Record<string, T> = {}) {
  return z.string().transform((raw, ctx) => {
    const v = raw.trim().toLowerCase();
    if ((values as readonly string[]).includes(v)) return v as T;
    if (v in aliases) return aliases[v] as T;
    ctx.addIssue({ code: "custom", message: `expected one of ${values.join(", ")}, got "${raw}"` });
    return z.NEVER;
  });
}

const text = z.string().transform((raw) => raw.trim());

const region = z.string().transform((raw, ctx) => {
  const v = raw.trim();
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(v)) {
    ctx.addIssue({
      code: "custom",
      message: `expected an AWS region such as us-east-1, got "${raw}"`,
    });
    return z.NEVER;
  }
  return v;
});

const baseUrl = z.string().transform((raw, ctx) => {
  const v = raw.trim().replace(/\/+$/, "");
  try {
    const url = new URL(v);
    if (url.protocol === "http:" || url.protocol === "https:") return v;
  } catch {
    // reported below
  }
  ctx.addIssue({ code: "custom", message: `expected an http(s) URL, got "${raw}"` });
  return z.NEVER;
});

const proxyUrl = z.string().transform((raw, ctx) => {
  const v = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`;
  try {
    new URL(withScheme);
    return withScheme;
  } catch {
    ctx.addIssue({ code: "custom", message: `expected a proxy URL or host:port, got "${raw}"` });
    return z.NEVER;
  }
});

const redisUrl = z.string().transform((raw, ctx) => {
  const v = raw.trim();
  try {
    const url = new URL(v);
    if ((url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname) return v;
  } catch {
    // reported below
  }
  ctx.addIssue({
    code: "custom",
    message: "expected redis://host:port/db or rediss://:password@host:port/db",
  });
  return z.NEVER;
});

/** STATE_SECRET shorter than this is refused: the encryption key of shared tokens comes from it. */
const MIN_STATE_SECRET_LENGTH = 16;

const SCHEMA = z.object({
  SERVER_HOST: text.default("127.0.0.1"),
  SERVER_PORT: integer(0, 65535, "a port").default(8000),
  PROXY_API_KEY: text.optional(),
  REFRESH_TOKEN: text.optional(),
  KIRO_CREDS_FILE: text.optional(),
  KIRO_CLI_DB_FILE: text.optional(),
  SQLITE_READONLY: bool.default(false),
  PROFILE_ARN: text.optional(),
  KIRO_REGION: region.default("us-east-1"),
  KIRO_API_REGION: region.optional(),
  KIRO_API_URL: baseUrl.optional(),
  KIRO_MANAGEMENT_URL: baseUrl.optional(),
  KIRO_AUTH_URL: baseUrl.optional(),
  KIRO_OIDC_URL: baseUrl.optional(),
  KIRO_Q_URL: baseUrl.optional(),
  VPN_PROXY_URL: proxyUrl.optional(),
  TOOL_DESCRIPTION_MAX_LENGTH: integer(0, 1_000_000).default(10000),
  TRUNCATION_RECOVERY: bool.default(true),
  LOG_LEVEL: oneOf<LogLevel>(["trace", "debug", "info", "warn", "error"], {
    warning: "warn",
    critical: "error",
  }).default("info"),
  LOG_FORMAT: oneOf<LogFormat>(["text", "json"]).default("text"),
  FIRST_TOKEN_TIMEOUT: secondsAsMs(0.001, 3600).default(15_000),
  FIRST_TOKEN_MAX_RETRIES: integer(1, 10).default(3),
  STREAMING_READ_TIMEOUT: secondsAsMs(0.001, 86400).default(300_000),
  DEBUG_MODE: oneOf<DebugMode>(["off", "errors", "all"]).default("off"),
  DEBUG_DIR: text.default("debug_logs"),
  DEBUG_KEEP: integer(1, 10_000).default(20),
  FAKE_REASONING: bool.default(true),
  FAKE_REASONING_MAX_TOKENS: integer(0, 1_000_000).default(4000),
  FAKE_REASONING_BUDGET_CAP: integer(0, 1_000_000).default(10000),
  FAKE_REASONING_HANDLING: oneOf<ReasoningHandling>([
    "as_reasoning_content",
    "remove",
    "pass",
    "strip_tags",
  ]).default("as_reasoning_content"),
  FAKE_REASONING_INITIAL_BUFFER_SIZE: integer(1, 10_000).default(20),
  KIRO_MAX_PAYLOAD_BYTES: integer(1000, 100_000_000).default(600_000),
  AUTO_TRIM_PAYLOAD: bool.default(false),
  IMAGE_URL_FETCH: oneOf<ImageUrlFetch>(["public", "all", "off"]).default("public"),
  STATE_DIR: text.default("state"),
  STATE_URL: redisUrl.optional(),
  STATE_SECRET: text.optional(),
  KIRO_ACCOUNTS_FILE: text.optional(),
  ACCOUNT_STRATEGY: oneOf<AccountStrategy>(["sticky", "balanced"]).default("sticky"),
  ACCOUNT_COOLDOWN_SECONDS: secondsAsMs(1, 86400).default(60_000),
  JOURNAL_SIZE: integer(1, 100_000).default(200),
  SHUTDOWN_GRACE_SECONDS: secondsAsMs(0, 86400).default(10_000),
  WEB_SEARCH: oneOf<WebSearchMode>(["on", "auto", "off"], {
    true: "on",
    false: "off",
  }).default("on"),
  RESPONSES_STORE_MAX_ENTRIES: integer(0, 1_000_000).default(500),
  RESPONSES_STORE_MAX_AGE: secondsAsMs(1, 31_536_000).default(86_400_000),
});

/** Where loadConfig reads from; injectable for tests. */
export interface ConfigSources {
  /** Reads one process environment variable by name. */
  getEnv: (name: EnvVar) => string | undefined;
  /** Reads a text file, or returns undefined when it does not exist. */
  readTextFile: (path: string) => string | undefined;
  /** Makes a fresh API key when none is configured. */
  generateKey?: () => string;
}

/** Builds the frozen Config from the command line, the environment and the `.env` file. */
export function loadConfig(cli: CliCommand, sources: ConfigSources): Readonly<Config> {
  const envFile = cli.envFile ?? ".env";
  const fileText = sources.readTextFile(envFile);
  if (cli.envFile !== undefined && fileText === undefined) {
    throw new ConfigError([`Cannot read --env-file "${cli.envFile}": file not found`]);
  }
  let fromFile: Record<string, string | undefined> = {};
  if (fileText !== undefined) {
    try {
      fromFile = parseEnv(fileText) as Record<string, string | undefined>;
    } catch (err) {
      throw new ConfigError([`Cannot parse "${envFile}": ${(err as Error).message}`]);
    }
  }
  const raw: Record<string, string> = {};
  for (const name of ENV_VARS) {
    const value = [sources.getEnv(name), fromFile[name]].find((v) => v?.trim());
    if (value !== undefined) raw[name] = value;
  }
  if (cli.host !== undefined) raw.SERVER_HOST = cli.host;
  if (cli.port !== undefined) raw.SERVER_PORT = cli.port;

  const result = SCHEMA.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "configuration");
      const flag = name === "SERVER_HOST" && cli.host !== undefined
        ? "--host"
        : name === "SERVER_PORT" && cli.port !== undefined
        ? "--port"
        : name;
      return `Invalid ${flag}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  const v = result.data;
  const stateProblem = stateSecretProblem(v.STATE_URL, v.STATE_SECRET);
  if (stateProblem) throw new ConfigError([stateProblem]);
  const generated = v.PROXY_API_KEY === undefined;
  const config: Config = {
    host: v.SERVER_HOST,
    port: v.SERVER_PORT,
    proxyApiKey: v.PROXY_API_KEY ?? (sources.generateKey ?? generateApiKey)(),
    proxyApiKeyGenerated: generated,
    refreshToken: v.REFRESH_TOKEN,
    credsFile: v.KIRO_CREDS_FILE,
    cliDbFile: v.KIRO_CLI_DB_FILE,
    sqliteReadonly: v.SQLITE_READONLY,
    profileArn: v.PROFILE_ARN,
    region: v.KIRO_REGION,
    apiRegion: v.KIRO_API_REGION,
    upstream: {
      api: v.KIRO_API_URL,
      management: v.KIRO_MANAGEMENT_URL,
      auth: v.KIRO_AUTH_URL,
      oidc: v.KIRO_OIDC_URL,
      q: v.KIRO_Q_URL,
    },
    proxyUrl: v.VPN_PROXY_URL,
    toolDescriptionMaxLength: v.TOOL_DESCRIPTION_MAX_LENGTH,
    truncationRecovery: v.TRUNCATION_RECOVERY,
    logLevel: v.LOG_LEVEL,
    logFormat: v.LOG_FORMAT,
    firstTokenTimeoutMs: v.FIRST_TOKEN_TIMEOUT,
    firstTokenMaxRetries: v.FIRST_TOKEN_MAX_RETRIES,
    streamingReadTimeoutMs: v.STREAMING_READ_TIMEOUT,
    debugMode: v.DEBUG_MODE,
    debugDir: v.DEBUG_DIR,
    debugKeep: v.DEBUG_KEEP,
    fakeReasoning: v.FAKE_REASONING,
    fakeReasoningMaxTokens: v.FAKE_REASONING_MAX_TOKENS,
    fakeReasoningBudgetCap: v.FAKE_REASONING_BUDGET_CAP,
    fakeReasoningHandling: v.FAKE_REASONING_HANDLING,
    fakeReasoningInitialBufferSize: v.FAKE_REASONING_INITIAL_BUFFER_SIZE,
    maxPayloadBytes: v.KIRO_MAX_PAYLOAD_BYTES,
    autoTrimPayload: v.AUTO_TRIM_PAYLOAD,
    imageUrlFetch: v.IMAGE_URL_FETCH,
    stateDir: v.STATE_DIR,
    stateUrl: v.STATE_URL,
    stateSecret: v.STATE_SECRET,
    accountsFile: v.KIRO_ACCOUNTS_FILE,
    accountStrategy: v.ACCOUNT_STRATEGY,
    accountCooldownMs: v.ACCOUNT_COOLDOWN_SECONDS,
    journalSize: v.JOURNAL_SIZE,
    shutdownGraceMs: v.SHUTDOWN_GRACE_SECONDS,
    webSearch: v.WEB_SEARCH,
    responsesStoreMaxEntries: v.RESPONSES_STORE_MAX_ENTRIES,
    responsesStoreMaxAgeMs: v.RESPONSES_STORE_MAX_AGE,
    demo: cli.demo,
    envFile,
  };
  return Object.freeze({ ...config, upstream: Object.freeze(config.upstream) });
}

/** Why STATE_SECRET does not go with STATE_URL, or undefined when it does. */
function stateSecretProblem(
  url: string | undefined,
  secret: string | undefined,
): string | undefined {
  if (url === undefined) return undefined;
  if (secret === undefined) {
    return "Invalid STATE_SECRET: required when STATE_URL is set (tokens are stored in Redis encrypted with a key made from it; use the same long random value on every instance)";
  }
  if (secret.length < MIN_STATE_SECRET_LENGTH) {
    return `Invalid STATE_SECRET: expected at least ${MIN_STATE_SECRET_LENGTH} characters, got ${secret.length}`;
  }
  return undefined;
}

/** Returns a configuration with every default, for tests; `overrides` replace fields. */
export function defaultConfig(overrides: Partial<Config> = {}): Readonly<Config> {
  const base = loadConfig({ command: "serve", demo: false }, {
    getEnv: () => undefined,
    readTextFile: () => undefined,
    generateKey: () => "test-key",
  });
  return Object.freeze({ ...base, ...overrides });
}

/** Makes a random 32-byte key, base64url-encoded, prefixed `kgw-`. */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `kgw-${
    btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
  }`;
}

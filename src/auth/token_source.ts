/**
 * The token lifecycle (spec §5.10): picks the credential source at start-up, hands out a valid
 * access token, refreshes it before it expires or after Kiro answered 403 (one refresh at a
 * time however many callers wait), writes refreshed tokens back, and finds the profile ARN.
 */
import { dirname } from "node:path";
import type { Config } from "../config.ts";
import { GatewayError } from "../errors.ts";
import { type Logger, redact } from "../log.ts";
import {
  authBaseUrl,
  machineFingerprint,
  managementBaseUrl,
  oidcBaseUrl,
} from "../kiro/endpoints.ts";
import {
  authTypeOf,
  CredentialsError,
  type CredentialSnapshot,
  permissionLine,
  regionOfArn,
  type SourceKind,
} from "./credentials.ts";
import { discoverProfileArn } from "./profile.ts";
import { refreshAwsSsoOidc, refreshKiroDesktop, type RefreshResult } from "./refresh.ts";
import { CREDENTIAL_CANDIDATES, expandHome, readJsonCredentials, statPath } from "./sources.ts";
import type { SharedTokens, TokenPair } from "./shared_tokens.ts";
import { readCliDatabase } from "./sqlite.ts";
import { CredentialWriter, removeStaleTempFiles, type WriteTarget } from "./write_back.ts";

export { CredentialsError } from "./credentials.ts";
export { CREDENTIAL_CANDIDATES } from "./sources.ts";

/** What a Kiro API call needs. */
export interface KiroAccess {
  accessToken: string;
  profileArn: string;
  apiRegion: string;
}

/** The credential state for `/health` and `doctor`; holds no secrets. */
export interface CredentialStatus {
  source: "kiro_cli_db" | "json_file" | "env_refresh_token" | "demo";
  path?: string;
  authType: "kiro_desktop" | "aws_sso_oidc";
  expiresAt?: string;
  lastRefreshAt?: string;
  lastError?: string;
  profileArn?: string;
  apiRegion: string;
  ssoRegion: string;
}

/** Hands out Kiro access tokens and keeps them fresh. */
export interface TokenSource {
  /** A valid token, refreshed first when it expires within 10 minutes; single flight. */
  getAccess(): Promise<KiroAccess>;
  /**
   * After Kiro answered 403 to `rejectedToken`: refresh once (single flight) unless the token
   * already changed since, then return the current access.
   */
  forceRefresh(rejectedToken: string): Promise<KiroAccess>;
  /** The current credential state, without secrets. */
  status(): CredentialStatus;
}

/** What createTokenSource needs besides the config. */
export interface TokenSourceOptions {
  logger: Logger;
  fetch?: typeof fetch;
  /** The clock in epoch milliseconds. */
  now?: () => number;
  /** Where `~` and the standard locations are; defaults to HOME or USERPROFILE. */
  homeDir?: string;
  platform?: typeof Deno.build.os;
  /** Told how each refresh call ended (the metrics count these); not for reused tokens. */
  onRefresh?: (result: "success" | "failure") => void;
  /** The account's refresh lock and published tokens, shared with other holders. */
  shared?: SharedTokens;
  /** Waits `ms` between polls of a refresh another holder runs; injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** How long the shared refresh lock is held at most (a dead holder loses it then). */
export const REFRESH_LOCK_MS = 30_000;

/** How often a waiter looks for the result of another holder's refresh. */
const REFRESH_POLL_MS = 250;

/** A token expiring within this many milliseconds is refreshed first. */
export const REFRESH_THRESHOLD_MS = 600_000;

/** Refreshed tokens are treated as expiring this many seconds before the server says. */
const EXPIRY_MARGIN_SECONDS = 60;

/** After a failed refresh with a still-valid token, the next attempt waits this long. */
const DEGRADED_RETRY_MS = 60_000;

const SETUP_LINES = [
  "Set one of these (in the environment or .env):",
  "  KIRO_CREDS_FILE=path to the Kiro IDE token file: sign in with the Kiro IDE, which writes ~/.aws/sso/cache/kiro-auth-token.json",
  "  KIRO_CLI_DB_FILE=path to the kiro-cli database: run `kiro-cli login`, which writes ~/.local/share/kiro-cli/data.sqlite3",
  "  REFRESH_TOKEN=a Kiro refresh token: kept in memory only, never written back",
];

/** A credential source chosen at start-up and its first read. */
interface LoadedSource {
  kind: SourceKind;
  path?: string;
  label: string;
  snapshot: CredentialSnapshot;
  tokenKey?: string;
  stateProfileArn?: string;
}

/**
 * Picks the credential source (KIRO_CLI_DB_FILE, then KIRO_CREDS_FILE, then REFRESH_TOKEN,
 * then the standard locations) and reads it. Throws CredentialsError when nothing usable is
 * found; main.ts prints its lines and exits.
 */
export async function createTokenSource(
  config: Readonly<Config>,
  options: TokenSourceOptions,
): Promise<TokenSource> {
  if (config.demo) return new DemoTokenSource(config);
  const homeDir = options.homeDir ?? homeFromEnv();
  const loaded = await loadSource(config, options, homeDir);
  if (loaded.path !== undefined && loaded.kind !== "kiro_cli_db") {
    await removeStaleTempFiles(loaded.path, { logger: options.logger });
  }
  const source = new KiroTokenSource(config, options, loaded, homeDir);
  options.logger.info("Using Kiro credentials", {
    source: loaded.kind,
    path: loaded.path,
    authType: authTypeOf(loaded.snapshot),
  });
  return source;
}

function homeFromEnv(): string | undefined {
  try {
    return Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  } catch {
    return undefined; // no --allow-env for them: discovery reports it
  }
}

async function loadSource(
  config: Readonly<Config>,
  options: TokenSourceOptions,
  homeDir: string | undefined,
): Promise<LoadedSource> {
  if (config.cliDbFile !== undefined) {
    const path = expandHome(config.cliDbFile, homeDir);
    await requireFile(path, "KIRO_CLI_DB_FILE");
    return loadDatabase(path, "KIRO_CLI_DB_FILE");
  }
  if (config.credsFile !== undefined) {
    const path = expandHome(config.credsFile, homeDir);
    await requireFile(path, "KIRO_CREDS_FILE");
    const loaded = await loadJson(path, "KIRO_CREDS_FILE", options, homeDir);
    loaded.snapshot.refreshToken ??= config.refreshToken;
    return loaded;
  }
  if (config.refreshToken !== undefined) {
    return {
      kind: "env_refresh_token",
      label: "REFRESH_TOKEN",
      snapshot: { refreshToken: config.refreshToken },
    };
  }
  return await discoverSource(options, homeDir);
}

async function requireFile(path: string, variable: string): Promise<void> {
  const state = await statPath(path);
  if (state === "denied") throw new CredentialsError([permissionLine(path, dirname(path))]);
  if (state === "missing") {
    throw new CredentialsError([
      `Cannot read ${variable} "${path}": file not found`,
      `Fix the path in ${variable}, or unset it to use another source`,
      ...SETUP_LINES,
    ]);
  }
}

function loadDatabase(path: string, label: string): LoadedSource {
  const login = readCliDatabase(path, label);
  return {
    kind: "kiro_cli_db",
    path,
    label,
    snapshot: login.snapshot,
    tokenKey: login.tokenKey,
    stateProfileArn: login.stateProfileArn,
  };
}

async function loadJson(
  path: string,
  label: string,
  options: TokenSourceOptions,
  homeDir: string | undefined,
): Promise<LoadedSource> {
  const snapshot = await readJsonCredentials(path, { homeDir, label, logger: options.logger });
  return { kind: "json_file", path, label, snapshot };
}

async function discoverSource(
  options: TokenSourceOptions,
  homeDir: string | undefined,
): Promise<LoadedSource> {
  if (homeDir === undefined) {
    throw new CredentialsError([
      "No Kiro credentials configured, and the home folder is unknown: HOME and USERPROFILE are unset or not readable (add --allow-env=HOME,USERPROFILE)",
      ...SETUP_LINES,
    ]);
  }
  const tried: string[] = [];
  for (const candidate of CREDENTIAL_CANDIDATES(homeDir, options.platform ?? Deno.build.os)) {
    const state = await statPath(candidate.path);
    if (state === "missing") {
      tried.push(`  ${candidate.path}: not found`);
      continue;
    }
    if (state === "denied") {
      tried.push(`  ${permissionLine(candidate.path, dirname(candidate.path))}`);
      continue;
    }
    try {
      const label = candidate.source === "json_file" ? "credentials file" : "kiro-cli database";
      const loaded = candidate.source === "json_file"
        ? await loadJson(candidate.path, label, options, homeDir)
        : loadDatabase(candidate.path, label);
      options.logger.info("Found Kiro credentials in a standard location", {
        path: candidate.path,
      });
      return loaded;
    } catch (err) {
      if (!(err instanceof CredentialsError)) throw err;
      tried.push(`  ${err.lines[0] ?? candidate.path}`);
    }
  }
  throw new CredentialsError([
    "No Kiro credentials found. Looked in:",
    ...tried,
    ...SETUP_LINES,
  ]);
}

/** What #takeRefreshLock yields: a lock to release, "done" (another holder refreshed), or none. */
type ReleaseLockResult = (() => Promise<void>) | "done" | undefined;

/** A refresh under way, and the token whose 403 started it (none for a proactive refresh). */
interface Flight {
  promise: Promise<void>;
  rejectedToken?: string;
}

class KiroTokenSource implements TokenSource {
  #config: Readonly<Config>;
  #logger: Logger;
  #fetch: typeof fetch | undefined;
  #now: () => number;
  #onRefresh: ((result: "success" | "failure") => void) | undefined;
  #homeDir: string | undefined;
  #kind: SourceKind;
  #path: string | undefined;
  #label: string;
  #snapshot: CredentialSnapshot;
  #tokenKey: string | undefined;
  #stateProfileArn: string | undefined;
  #discoveredArn: string | undefined;
  #discovery: Promise<string> | undefined;
  #flight: Flight | undefined;
  #writer: CredentialWriter;
  #fingerprint: string;
  #lastRefreshAtMs: number | undefined;
  #lastError: string | undefined;
  #degradedUntilMs: number | undefined;
  #shared: SharedTokens | undefined;
  #sleep: (ms: number) => Promise<void>;

  constructor(
    config: Readonly<Config>,
    options: TokenSourceOptions,
    loaded: LoadedSource,
    homeDir: string | undefined,
  ) {
    this.#config = config;
    this.#logger = options.logger;
    this.#fetch = options.fetch;
    this.#now = options.now ?? Date.now;
    this.#onRefresh = options.onRefresh;
    this.#homeDir = homeDir;
    this.#kind = loaded.kind;
    this.#path = loaded.path;
    this.#label = loaded.label;
    this.#snapshot = { ...loaded.snapshot };
    this.#tokenKey = loaded.tokenKey;
    this.#stateProfileArn = loaded.stateProfileArn;
    this.#fingerprint = machineFingerprint();
    this.#shared = options.shared;
    this.#sleep = options.sleep ??
      ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    const target: WriteTarget = loaded.path === undefined
      ? { kind: "memory" }
      : loaded.kind === "kiro_cli_db"
      ? { kind: "kiro_cli_db", path: loaded.path, readonly: config.sqliteReadonly }
      : { kind: "json_file", path: loaded.path };
    this.#writer = new CredentialWriter(target, options.logger);
  }

  async getAccess(): Promise<KiroAccess> {
    const flight = this.#flight;
    if (flight?.rejectedToken !== undefined) await flight.promise.catch(() => {});
    if (this.#needsRefresh(this.#now())) await this.#startFlight(undefined);
    return await this.#access();
  }

  async forceRefresh(rejectedToken: string): Promise<KiroAccess> {
    const flight = this.#flight;
    if (flight !== undefined && flight.rejectedToken === rejectedToken) {
      await flight.promise;
      return await this.#access();
    }
    if (flight !== undefined) await flight.promise.catch(() => {});
    if (this.#snapshot.accessToken !== rejectedToken) return await this.getAccess();
    await this.#startFlight(rejectedToken);
    return await this.#access();
  }

  status(): CredentialStatus {
    const ssoRegion = this.#ssoRegion();
    const s = this.#snapshot;
    return {
      source: this.#kind,
      path: this.#path,
      authType: authTypeOf(s),
      expiresAt: s.expiresAtMs === undefined ? undefined : new Date(s.expiresAtMs).toISOString(),
      lastRefreshAt: this.#lastRefreshAtMs === undefined
        ? undefined
        : new Date(this.#lastRefreshAtMs).toISOString(),
      lastError: this.#lastError,
      profileArn: this.#knownProfileArn(),
      apiRegion: this.#apiRegion(),
      ssoRegion,
    };
  }

  #ssoRegion(): string {
    return this.#snapshot.region ?? this.#config.region;
  }

  #apiRegion(): string {
    return this.#config.apiRegion ?? regionOfArn(this.#knownProfileArn()) ?? this.#ssoRegion();
  }

  #knownProfileArn(): string | undefined {
    return this.#snapshot.profileArn ?? this.#stateProfileArn ?? this.#config.profileArn ??
      this.#discoveredArn;
  }

  #expiringSoon(now: number): boolean {
    const { accessToken, expiresAtMs } = this.#snapshot;
    return !accessToken || expiresAtMs === undefined || expiresAtMs <= now + REFRESH_THRESHOLD_MS;
  }

  #needsRefresh(now: number): boolean {
    if (!this.#expiringSoon(now)) return false;
    const { expiresAtMs } = this.#snapshot;
    const degraded = this.#degradedUntilMs !== undefined && now < this.#degradedUntilMs &&
      expiresAtMs !== undefined && now < expiresAtMs;
    return !degraded;
  }

  /** Starts a refresh, or joins the one under way. */
  #startFlight(rejectedToken: string | undefined): Promise<void> {
    if (this.#flight !== undefined) return this.#flight.promise;
    const promise = this.#refresh(rejectedToken).finally(() => {
      if (this.#flight?.promise === promise) this.#flight = undefined;
    });
    this.#flight = { promise, rejectedToken };
    return promise;
  }

  async #access(): Promise<KiroAccess> {
    const accessToken = this.#snapshot.accessToken;
    if (!accessToken) {
      throw new GatewayError("kiro_auth", `No Kiro access token: ${this.#loginHint()}`);
    }
    const profileArn = this.#knownProfileArn() ?? await this.#discoverProfileArn(accessToken);
    return { accessToken, profileArn, apiRegion: this.#apiRegion() };
  }

  #discoverProfileArn(accessToken: string): Promise<string> {
    if (this.#discovery !== undefined) return this.#discovery;
    const base = managementBaseUrl(this.#apiRegion(), this.#config.upstream);
    const discovery = discoverProfileArn(base, accessToken, { fetch: this.#fetch })
      .then((arn) => {
        this.#discoveredArn = arn;
        this.#logger.info("Discovered Kiro profile ARN with ListAvailableProfiles", {
          profileArn: arn,
        });
        return arn;
      })
      .finally(() => {
        if (this.#discovery === discovery) this.#discovery = undefined;
      });
    this.#discovery = discovery;
    return discovery;
  }

  #loginHint(): string {
    switch (this.#kind) {
      case "kiro_cli_db":
        return "run `kiro-cli login` and try again";
      case "json_file":
        return `sign in to Kiro again in the Kiro IDE (it rewrites "${this.#path}")`;
      case "env_refresh_token":
        return "sign in to Kiro again and set REFRESH_TOKEN to the new refresh token";
    }
  }

  async #refresh(rejectedToken: string | undefined): Promise<void> {
    try {
      await this.#reloadSource();
      const token = this.#snapshot.accessToken;
      if (token !== rejectedToken && !this.#expiringSoon(this.#now())) {
        this.#logger.info("Using the access token saved by another program", {
          path: this.#path,
        });
        this.#degradedUntilMs = undefined;
        return;
      }
      if (await this.#adoptShared(rejectedToken)) return;
      const release = await this.#takeRefreshLock(rejectedToken);
      if (release === "done") return;
      try {
        const result = await this.#refreshWithRetry();
        await this.#apply(result);
        this.#onRefresh?.("success");
      } finally {
        await release?.();
      }
    } catch (err) {
      this.#onRefresh?.("failure");
      const message = (err as Error).message;
      this.#lastError = message;
      const now = this.#now();
      const { accessToken, expiresAtMs } = this.#snapshot;
      if (
        rejectedToken === undefined && accessToken && expiresAtMs !== undefined &&
        now < expiresAtMs
      ) {
        this.#degradedUntilMs = now + DEGRADED_RETRY_MS;
        this.#logger.warn(
          `Token refresh failed; using the current access token until it expires: ${this.#loginHint()}`,
          { error: message, expiresAt: new Date(expiresAtMs).toISOString() },
        );
        return;
      }
      this.#logger.error("Token refresh failed", { error: message });
      throw err;
    }
  }

  /** Whether the current token is usable: not the one Kiro rejected, not expiring soon. */
  #usable(rejectedToken: string | undefined): boolean {
    const token = this.#snapshot.accessToken;
    return token !== undefined && token !== rejectedToken && !this.#expiringSoon(this.#now());
  }

  /** Takes over a newer pair another holder published; true when it is usable. */
  async #adoptShared(rejectedToken: string | undefined): Promise<boolean> {
    const pair = await this.#shared?.read().catch(() => undefined);
    if (pair === undefined) return false;
    const s = this.#snapshot;
    const newer = (pair.expiresAtMs ?? -Infinity) > (s.expiresAtMs ?? -Infinity) ||
      (pair.accessToken !== s.accessToken && s.accessToken === rejectedToken);
    if (!newer || pair.accessToken === rejectedToken) return false;
    s.accessToken = pair.accessToken;
    s.refreshToken = pair.refreshToken ?? s.refreshToken;
    s.expiresAtMs = pair.expiresAtMs;
    s.profileArn = pair.profileArn ?? s.profileArn;
    if (!this.#usable(rejectedToken)) return false;
    this.#degradedUntilMs = undefined;
    this.#logger.debug("Using the access token another gateway instance refreshed");
    return true;
  }

  /**
   * Takes the shared refresh lock. While another holder has it, waits for its result (a newer
   * token published or written to the source): "done" when one arrived, else the lock's
   * release once taken. Without a SharedTokens there is nothing to take.
   */
  async #takeRefreshLock(
    rejectedToken: string | undefined,
  ): Promise<ReleaseLockResult> {
    const shared = this.#shared;
    if (shared === undefined) return undefined;
    // Long enough for a dead holder's lock to expire and another waiter's refresh after it.
    const deadline = this.#now() + 2 * REFRESH_LOCK_MS;
    for (;;) {
      const release = await shared.lock(REFRESH_LOCK_MS);
      if (release !== undefined) {
        // Another holder may have refreshed and let go between our last look and the lock
        // (or the one we waited for just finished): its refresh token is then used up, so
        // take its result instead of refreshing again.
        if (await this.#adoptShared(rejectedToken)) {
          await release();
          return "done";
        }
        await this.#reloadSource();
        if (!this.#usable(rejectedToken)) return release;
        await release();
        return "done";
      }
      // Checked right after a lock attempt, so a lock that expired is always tried once more.
      if (this.#now() > deadline) {
        throw new GatewayError(
          "upstream_timeout",
          "Cannot refresh Kiro token: another gateway instance holds the refresh lock and published no new token",
        );
      }
      await this.#sleep(REFRESH_POLL_MS);
      if (await this.#adoptShared(rejectedToken)) return "done";
      await this.#reloadSource();
      if (this.#usable(rejectedToken)) return "done";
    }
  }

  /** Refreshes; a 400 from a file source is retried once if the file holds a newer refresh token. */
  async #refreshWithRetry(): Promise<RefreshResult> {
    const used = this.#snapshot.refreshToken;
    try {
      return await this.#callRefresh();
    } catch (err) {
      if (!(err instanceof GatewayError) || err.upstreamStatus !== 400 || !this.#path) throw err;
      const reread = await this.#readSource().catch(() => undefined);
      const fresh = reread?.snapshot.refreshToken;
      if (!reread || !fresh || fresh === used) throw err;
      this.#logger.info("Retrying token refresh with the refresh token saved in the source", {
        path: this.#path,
      });
      this.#adopt(reread, true);
      return await this.#callRefresh();
    }
  }

  #callRefresh(): Promise<RefreshResult> {
    const s = this.#snapshot;
    const options = { fetch: this.#fetch, loginHint: this.#loginHint() };
    if (!s.refreshToken) {
      return Promise.reject(
        new GatewayError(
          "kiro_auth",
          `Cannot refresh Kiro token: ${this.#label}${
            this.#path ? ` "${this.#path}"` : ""
          } has no refresh token: ${this.#loginHint()}`,
        ),
      );
    }
    this.#logger.debug("Refreshing Kiro access token", {
      authType: authTypeOf(s),
      refreshToken: redact(s.refreshToken),
    });
    if (authTypeOf(s) === "aws_sso_oidc" && s.clientId && s.clientSecret) {
      return refreshAwsSsoOidc(oidcBaseUrl(this.#ssoRegion(), this.#config.upstream), {
        clientId: s.clientId,
        clientSecret: s.clientSecret,
        refreshToken: s.refreshToken,
      }, options);
    }
    return refreshKiroDesktop(authBaseUrl(this.#ssoRegion(), this.#config.upstream), {
      refreshToken: s.refreshToken,
      fingerprint: this.#fingerprint,
    }, options);
  }

  async #apply(result: RefreshResult): Promise<void> {
    const now = this.#now();
    const expiresAtMs = Math.floor(now / 1000) * 1000 +
      (result.expiresInSeconds - EXPIRY_MARGIN_SECONDS) * 1000;
    const s = this.#snapshot;
    s.accessToken = result.accessToken;
    s.refreshToken = result.refreshToken ?? s.refreshToken;
    s.expiresAtMs = expiresAtMs;
    s.profileArn = result.profileArn ?? s.profileArn;
    this.#lastRefreshAtMs = now;
    this.#lastError = undefined;
    this.#degradedUntilMs = undefined;
    this.#logger.info("Refreshed Kiro access token", {
      authType: authTypeOf(s),
      expiresAt: new Date(expiresAtMs).toISOString(),
    });
    await this.#writer.write({
      accessToken: result.accessToken,
      refreshToken: s.refreshToken,
      expiresAtMs,
      profileArn: s.profileArn,
      region: this.#ssoRegion(),
      tokenKey: this.#tokenKey,
    });
    const pair: TokenPair = {
      accessToken: result.accessToken,
      refreshToken: s.refreshToken,
      expiresAtMs,
      profileArn: s.profileArn,
    };
    await this.#shared?.publish(pair).catch((err: unknown) => {
      this.#logger.warn("Cannot publish the refreshed token to the shared state", {
        error: (err as Error).message,
      });
    });
  }

  /** Re-reads a file source, which another program (kiro-cli, the IDE) may have refreshed. */
  async #reloadSource(): Promise<void> {
    if (!this.#path) return;
    try {
      this.#adopt(await this.#readSource(), false);
    } catch (err) {
      this.#logger.warn("Cannot re-read the credential source; using the tokens in memory", {
        path: this.#path,
        error: err instanceof CredentialsError ? err.lines.join("; ") : (err as Error).message,
      });
    }
  }

  async #readSource(): Promise<LoadedSource> {
    const path = this.#path ?? "";
    return this.#kind === "kiro_cli_db"
      ? loadDatabase(path, this.#label)
      : await loadJson(path, this.#label, { logger: this.#logger }, this.#homeDir);
  }

  /** Takes over a re-read's tokens when they are newer than ours, or unconditionally. */
  #adopt(reread: LoadedSource, always: boolean): void {
    const s = this.#snapshot;
    const theirs = reread.snapshot;
    const newer = (theirs.expiresAtMs ?? -Infinity) > (s.expiresAtMs ?? -Infinity);
    if (theirs.accessToken && (always || newer)) {
      s.accessToken = theirs.accessToken;
      s.expiresAtMs = theirs.expiresAtMs;
    }
    if (theirs.refreshToken && (always || newer)) s.refreshToken = theirs.refreshToken;
    s.profileArn = theirs.profileArn ?? s.profileArn;
    s.region = theirs.region ?? s.region;
    if (theirs.clientId && theirs.clientSecret) {
      s.clientId = theirs.clientId;
      s.clientSecret = theirs.clientSecret;
    }
    this.#tokenKey = reread.tokenKey ?? this.#tokenKey;
    this.#stateProfileArn = reread.stateProfileArn ?? this.#stateProfileArn;
  }
}

/** The `--demo` source: a fixed token for the built-in scripted upstream; never refreshes. */
class DemoTokenSource implements TokenSource {
  #access: KiroAccess;
  #ssoRegion: string;
  constructor(config: Readonly<Config>) {
    this.#ssoRegion = config.region;
    this.#access = {
      accessToken: "demo-access-token",
      profileArn: "arn:aws:codewhisperer:us-east-1:000000000000:profile/DEMO",
      apiRegion: config.apiRegion ?? config.region,
    };
  }
  getAccess(): Promise<KiroAccess> {
    return Promise.resolve(this.#access);
  }
  forceRefresh(): Promise<KiroAccess> {
    return Promise.resolve(this.#access);
  }
  status(): CredentialStatus {
    return {
      source: "demo",
      authType: "kiro_desktop",
      profileArn: this.#access.profileArn,
      apiRegion: this.#access.apiRegion,
      ssoRegion: this.#ssoRegion,
    };
  }
}

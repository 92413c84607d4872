/**
 * `kiro-gateway doctor`: checks the configuration, each credential source, the profile ARN and
 * regions, whether every Kiro upstream answers and, with STATE_URL, the shared state store,
 * printing one line per finding with what to fix. It never refreshes a token: it reports
 * expiry and whether a refresh would be possible.
 */
import { type AccountEntry, loadAccountEntries } from "./accounts/entries.ts";
import { CredentialsError, type CredentialSnapshot } from "./auth/credentials.ts";
import {
  CREDENTIAL_CANDIDATES,
  expandHome,
  readJsonCredentials,
  statPath,
} from "./auth/sources.ts";
import { readCliDatabase } from "./auth/sqlite.ts";
import type { Config } from "./config.ts";
import {
  apiBaseUrl,
  authBaseUrl,
  managementBaseUrl,
  oidcBaseUrl,
  qBaseUrl,
} from "./kiro/endpoints.ts";
import { silentLogger } from "./log.ts";
import { deniedPathLines, gatewayPaths, type PermissionQuery } from "./permissions.ts";

/** How serious a finding is; any `fail` makes doctor exit 1. */
export type FindingLevel = "ok" | "warn" | "fail";

/** One line of the doctor's report. */
export interface Finding {
  level: FindingLevel;
  message: string;
}

/** How long each upstream gets to answer, in milliseconds. */
export const PROBE_TIMEOUT_MS = 5000;

const PROFILE_ARN = /^arn:aws:codewhisperer:[a-z0-9-]+:\d+:profile\/[A-Za-z0-9._-]+$/;

/** What doctor needs besides the config; injectable for tests. */
export interface DoctorOptions {
  homeDir?: string;
  platform: typeof Deno.build.os;
  /** The clock in epoch milliseconds. */
  now: () => number;
  fetch?: typeof fetch;
  query?: PermissionQuery;
  probeTimeoutMs?: number;
}

/** Runs every check and returns the findings in order. */
export async function runDoctor(
  config: Readonly<Config>,
  options: DoctorOptions,
): Promise<Finding[]> {
  const findings: Finding[] = [...checkConfig(config, options)];
  const credentials = await checkCredentials(config, options);
  findings.push(...credentials.findings);
  findings.push(...checkProfile(config, credentials.snapshot));
  findings.push(...await checkUpstreams(config, credentials.snapshot, options));
  findings.push(...await checkStateStore(config, options));
  return findings;
}

/** With STATE_URL: whether Redis answers and STATE_SECRET opens what the instances stored. */
export async function checkStateStore(
  config: Readonly<Config>,
  options: Pick<DoctorOptions, "probeTimeoutMs">,
): Promise<Finding[]> {
  if (config.stateUrl === undefined || config.stateSecret === undefined) return [];
  // Loaded only here: the Redis client adds about 25 MB to a process that does not use it.
  const { describeRedisUrl, probeRedisState } = await import("./state/redis.ts");
  const where = describeRedisUrl(config.stateUrl);
  const probe = await probeRedisState(
    config.stateUrl,
    config.stateSecret,
    options.probeTimeoutMs ?? PROBE_TIMEOUT_MS,
  );
  if (probe.error !== undefined) {
    return [{
      level: "fail",
      message:
        `State store ${where} unreachable: ${probe.error}; the gateway would serve from local state only, without sharing (check STATE_URL, its password and the network)`,
    }];
  }
  if (probe.secretMatches === false) {
    return [{
      level: "fail",
      message:
        `State store ${where} holds values sealed under another STATE_SECRET: use the same STATE_SECRET on every instance`,
    }];
  }
  const secret = probe.secretMatches
    ? "STATE_SECRET matches the other instances'"
    : "no instance has stored anything yet";
  return [{ level: "ok", message: `State store ${where} reachable; ${secret}` }];
}

/** Formats a finding as one line: `ok   ...`, `warn ...` or `FAIL ...`. */
export function formatFinding(finding: Finding): string {
  const tag = finding.level === "fail" ? "FAIL" : finding.level.padEnd(4);
  return `${tag} ${finding.message}`;
}

function checkConfig(config: Readonly<Config>, options: DoctorOptions): Finding[] {
  const findings: Finding[] = [
    { level: "ok", message: `Configuration is valid (read "${config.envFile}" if present)` },
  ];
  if (config.proxyApiKeyGenerated) {
    findings.push({
      level: "warn",
      message: "PROXY_API_KEY is not set: a new random key is made at each start; set it in .env",
    });
  }
  const denied = deniedPathLines(gatewayPaths(config, options), {
    query: options.query,
    standalone: Deno.build.standalone,
  });
  for (const line of denied) findings.push({ level: "fail", message: line });
  return findings;
}

interface SourceCheck {
  label: string;
  path?: string;
  kind: "json" | "db" | "env";
}

function sourcesToCheck(config: Readonly<Config>, options: DoctorOptions): SourceCheck[] {
  const sources: SourceCheck[] = [];
  if (config.cliDbFile !== undefined) {
    sources.push({
      label: "KIRO_CLI_DB_FILE",
      path: expandHome(config.cliDbFile, options.homeDir),
      kind: "db",
    });
  }
  if (config.credsFile !== undefined) {
    sources.push({
      label: "KIRO_CREDS_FILE",
      path: expandHome(config.credsFile, options.homeDir),
      kind: "json",
    });
  }
  if (config.refreshToken !== undefined) sources.push({ label: "REFRESH_TOKEN", kind: "env" });
  if (sources.length === 0 && options.homeDir !== undefined) {
    for (const candidate of CREDENTIAL_CANDIDATES(options.homeDir, options.platform)) {
      sources.push({
        label: "standard location",
        path: candidate.path,
        kind: candidate.source === "json_file" ? "json" : "db",
      });
    }
  }
  return sources;
}

async function checkCredentials(
  config: Readonly<Config>,
  options: DoctorOptions,
): Promise<{ findings: Finding[]; snapshot?: CredentialSnapshot }> {
  if (config.accountsFile !== undefined && !config.demo) {
    return await checkAccounts(config, options);
  }
  const findings: Finding[] = [];
  let chosen: CredentialSnapshot | undefined;
  const discovering = config.cliDbFile === undefined && config.credsFile === undefined &&
    config.refreshToken === undefined;
  for (const source of sourcesToCheck(config, options)) {
    if (source.kind === "env") {
      findings.push({
        level: "ok",
        message: "REFRESH_TOKEN is set: the gateway refreshes it at start (no expiry to check)",
      });
      chosen ??= { refreshToken: config.refreshToken };
      continue;
    }
    const path = source.path!;
    const state = await statPath(path);
    const name = `${source.label} "${path}"`;
    if (state === "missing") {
      if (!discovering) {
        findings.push({
          level: "fail",
          message: `${name}: file not found; fix the path or unset it`,
        });
      }
      continue;
    }
    if (state === "denied") {
      findings.push({
        level: discovering ? "warn" : "fail",
        message: `${name}: not readable with these permissions; add --allow-read=${path}`,
      });
      continue;
    }
    let snapshot: CredentialSnapshot;
    try {
      snapshot = source.kind === "db"
        ? readCliDatabase(path, source.label).snapshot
        : await readJsonCredentials(path, {
          label: source.label,
          homeDir: options.homeDir,
          logger: silentLogger(),
        });
    } catch (err) {
      const detail = err instanceof Error ? err.message.split("\n")[0] : String(err);
      findings.push({ level: "fail", message: `${name}: unusable: ${detail}` });
      continue;
    }
    findings.push(...describeSnapshot(name, snapshot, options.now()));
    chosen ??= snapshot;
  }
  if (chosen === undefined && !findings.some((f) => f.level === "fail")) {
    findings.push({
      level: "fail",
      message:
        "No Kiro credentials found: sign in with the Kiro IDE or kiro-cli, or set KIRO_CREDS_FILE, KIRO_CLI_DB_FILE or REFRESH_TOKEN",
    });
  }
  return { findings, snapshot: chosen };
}

/** Checks KIRO_ACCOUNTS_FILE and each enabled account's credentials. */
async function checkAccounts(
  config: Readonly<Config>,
  options: DoctorOptions,
): Promise<{ findings: Finding[]; snapshot?: CredentialSnapshot }> {
  let entries: AccountEntry[];
  try {
    entries = await loadAccountEntries(config.accountsFile!, { homeDir: options.homeDir });
  } catch (err) {
    if (!(err instanceof CredentialsError)) throw err;
    return { findings: [{ level: "fail", message: err.lines[0] ?? err.message }] };
  }
  const enabled = entries.filter((e) => e.enabled);
  const findings: Finding[] = [{
    level: "ok",
    message: `KIRO_ACCOUNTS_FILE: ${entries.length} accounts, ${enabled.length} enabled (${
      enabled.map((e) => e.name).join(", ")
    }); strategy ${config.accountStrategy}`,
  }];
  let chosen: CredentialSnapshot | undefined;
  for (const entry of enabled) {
    const name = `account "${entry.name}"`;
    if (entry.path === undefined) {
      findings.push({ level: "ok", message: `${name}: refresh token set (refreshed at start)` });
      chosen ??= { refreshToken: entry.refreshToken };
      continue;
    }
    try {
      const snapshot = entry.kind === "sqlite"
        ? readCliDatabase(entry.path, name).snapshot
        : await readJsonCredentials(entry.path, {
          label: name,
          homeDir: options.homeDir,
          logger: silentLogger(),
        });
      findings.push(...describeSnapshot(`${name} "${entry.path}"`, snapshot, options.now()));
      chosen ??= { ...snapshot, profileArn: snapshot.profileArn ?? entry.profileArn };
    } catch (err) {
      const detail = err instanceof Error ? err.message.split("\n")[0] : String(err);
      findings.push({ level: "fail", message: `${name} "${entry.path}": unusable: ${detail}` });
    }
  }
  return { findings, snapshot: chosen };
}

/** Reports expiry and whether a refresh is possible for one credential source. */
function describeSnapshot(name: string, snapshot: CredentialSnapshot, now: number): Finding[] {
  const refreshable = snapshot.refreshToken !== undefined;
  const flow = snapshot.clientId && snapshot.clientSecret ? "AWS SSO OIDC" : "Kiro desktop";
  const expiry = snapshot.expiresAtMs;
  if (expiry === undefined) {
    return [{
      level: refreshable ? "ok" : "fail",
      message: refreshable
        ? `${name}: found; no expiry recorded; refreshable (${flow})`
        : `${name}: found but has no expiry and no refreshToken; sign in again`,
    }];
  }
  const minutes = Math.round((expiry - now) / 60_000);
  const when = new Date(expiry).toISOString();
  if (expiry > now) {
    return [{
      level: "ok",
      message: `${name}: found; token valid until ${when} (${minutes} min); ${
        refreshable ? `refreshable (${flow})` : "not refreshable: no refreshToken"
      }`,
    }];
  }
  return [{
    level: refreshable ? "warn" : "fail",
    message: refreshable
      ? `${name}: found; token expired at ${when}; the gateway refreshes it at start (${flow})`
      : `${name}: token expired at ${when} and there is no refreshToken: sign in with Kiro again`,
  }];
}

function checkProfile(config: Readonly<Config>, snapshot?: CredentialSnapshot): Finding[] {
  const findings: Finding[] = [];
  const arn = snapshot?.profileArn ?? config.profileArn;
  if (arn === undefined) {
    findings.push({
      level: "warn",
      message:
        "No profile ARN in the credentials or PROFILE_ARN: the gateway tries to discover it at start; set PROFILE_ARN if requests fail with 400",
    });
  } else if (!PROFILE_ARN.test(arn)) {
    findings.push({
      level: "fail",
      message:
        `Profile ARN "${arn}" does not look like arn:aws:codewhisperer:<region>:<account>:profile/<id>: fix PROFILE_ARN`,
    });
  } else {
    findings.push({ level: "ok", message: `Profile ARN ${arn}` });
  }
  const apiRegion = apiRegionOf(config, snapshot);
  findings.push({
    level: "ok",
    message: `Regions: SSO ${snapshot?.region ?? config.region}, API ${apiRegion}`,
  });
  return findings;
}

function apiRegionOf(config: Readonly<Config>, snapshot?: CredentialSnapshot): string {
  const arnRegion = (snapshot?.profileArn ?? config.profileArn)?.split(":")[3];
  return config.apiRegion ?? arnRegion ?? snapshot?.region ?? config.region;
}

async function checkUpstreams(
  config: Readonly<Config>,
  snapshot: CredentialSnapshot | undefined,
  options: DoctorOptions,
): Promise<Finding[]> {
  const apiRegion = apiRegionOf(config, snapshot);
  const ssoRegion = snapshot?.region ?? config.region;
  const targets: Array<[string, string, string]> = [
    ["API", apiBaseUrl(apiRegion, config.upstream), "KIRO_API_URL"],
    ["management", managementBaseUrl(apiRegion, config.upstream), "KIRO_MANAGEMENT_URL"],
    ["auth", authBaseUrl(ssoRegion, config.upstream), "KIRO_AUTH_URL"],
    ["OIDC", oidcBaseUrl(ssoRegion, config.upstream), "KIRO_OIDC_URL"],
    ["Q (web search)", qBaseUrl(apiRegion, config.upstream), "KIRO_Q_URL"],
  ];
  const client = config.proxyUrl
    ? Deno.createHttpClient({ proxy: { url: config.proxyUrl } })
    : undefined;
  try {
    return await Promise.all(targets.map(async ([name, url, variable]) => {
      const result = await probe(url, options, client);
      if (typeof result === "number") {
        return {
          level: "ok" as const,
          message: `Kiro ${name} host ${url} reachable (HTTP ${result})`,
        };
      }
      const fix = config.proxyUrl
        ? "check VPN_PROXY_URL"
        : `check the network, or set VPN_PROXY_URL or ${variable}`;
      return {
        level: "fail" as const,
        message: `Kiro ${name} host ${url} unreachable: ${result}; ${fix}`,
      };
    }));
  } finally {
    client?.close();
  }
}

/** Any HTTP answer counts: returns its status, or why no answer came. */
async function probe(
  url: string,
  options: DoctorOptions,
  client: Deno.HttpClient | undefined,
): Promise<number | string> {
  const controller = new AbortController();
  const timeoutMs = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const init: RequestInit & { client?: Deno.HttpClient } = {
      method: "HEAD",
      signal: controller.signal,
    };
    if (client) init.client = client;
    const res = await (options.fetch ?? fetch)(url, init);
    await res.body?.cancel();
    return res.status;
  } catch (err) {
    if (controller.signal.aborted) return `no answer within ${timeoutMs / 1000} s`;
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

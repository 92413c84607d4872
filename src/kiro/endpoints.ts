/**
 * Kiro upstream URLs and the client identity sent with every call (spec §1.1–1.2). Each base
 * URL can be replaced through config (KIRO_API_URL and friends) for tests and mirrors.
 */
import { createHash } from "node:crypto";
import type { UpstreamOverrides } from "../config.ts";

/** Base URL of generateAssistantResponse for an API region. */
export function apiBaseUrl(region: string, overrides: UpstreamOverrides): string {
  return overrides.api ?? `https://runtime.${region}.kiro.dev`;
}

/** Base URL of the MCP endpoint (web search) for an API region (spec §1.5). */
export function qBaseUrl(region: string, overrides: UpstreamOverrides): string {
  return overrides.q ?? `https://q.${region}.amazonaws.com`;
}

/** Base URL of ListAvailableModels and ListAvailableProfiles for an API region. */
export function managementBaseUrl(region: string, overrides: UpstreamOverrides): string {
  return overrides.management ?? `https://management.${region}.kiro.dev`;
}

/** Base URL of the Kiro desktop token refresh for an SSO region. */
export function authBaseUrl(region: string, overrides: UpstreamOverrides): string {
  return overrides.auth ?? `https://prod.${region}.auth.desktop.kiro.dev`;
}

/** Base URL of the AWS SSO OIDC token endpoint for an SSO region. */
export function oidcBaseUrl(region: string, overrides: UpstreamOverrides): string {
  return overrides.oidc ?? `https://oidc.${region}.amazonaws.com`;
}

/** The Kiro IDE version the gateway presents itself as. */
export const KIRO_IDE_VERSION = "0.7.45";
const SDK_VERSION = "1.0.27";

/**
 * A stable 64-hex machine fingerprint: SHA-256 of `{hostname}-kiro-gateway`, or of
 * `default-kiro-gateway` when the hostname may not be read (no `--allow-sys=hostname`).
 */
export function machineFingerprint(): string {
  let host = "default";
  try {
    host = Deno.hostname();
  } catch {
    // Permission denied or unsupported: the default is just as stable.
  }
  return createHash("sha256").update(`${host}-kiro-gateway`).digest("hex");
}

/** The User-Agent and x-amz-user-agent values of the Kiro IDE's AWS SDK client. */
export function kiroUserAgents(fingerprint: string): { userAgent: string; amzUserAgent: string } {
  const ide = `KiroIDE-${KIRO_IDE_VERSION}-${fingerprint}`;
  return {
    userAgent:
      `aws-sdk-js/${SDK_VERSION} ua/2.1 os/win32#10.0.19044 lang/js md/nodejs#22.21.1 api/codewhispererstreaming#${SDK_VERSION} m/E ${ide}`,
    amzUserAgent: `aws-sdk-js/${SDK_VERSION} ${ide}`,
  };
}

/** The User-Agent of the Kiro desktop token refresh call. */
export function refreshUserAgent(fingerprint: string): string {
  return `KiroIDE-${KIRO_IDE_VERSION}-${fingerprint}`;
}

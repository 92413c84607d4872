/**
 * The two token refresh calls (spec §5.7 Kiro desktop, §5.8 AWS SSO OIDC). Each throws a
 * GatewayError: `kiro_auth` when the login is dead (400/401), `upstream_unreachable` or
 * `upstream_timeout` when the endpoint cannot be reached, `upstream` for anything else.
 */
import { GatewayError } from "../errors.ts";
import { refreshUserAgent } from "../kiro/endpoints.ts";

/** What a successful refresh returns. */
export interface RefreshResult {
  accessToken: string;
  /** The rotated refresh token, when the endpoint sent one. */
  refreshToken?: string;
  /** Lifetime of the access token in seconds (3600 when not sent). */
  expiresInSeconds: number;
  profileArn?: string;
}

/** Options shared by both refresh calls. */
export interface RefreshOptions {
  fetch?: typeof fetch;
  /** What the user should do when the login is dead, appended to the `kiro_auth` message. */
  loginHint: string;
  /** Defaults to REFRESH_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** How long a refresh call may take. */
export const REFRESH_TIMEOUT_MS = 30_000;

const DEFAULT_EXPIRES_IN_SECONDS = 3600;

/** Refreshes a Kiro desktop or social login: `POST {authBaseUrl}/refreshToken`. */
export async function refreshKiroDesktop(
  authBaseUrl: string,
  login: { refreshToken: string; fingerprint: string },
  options: RefreshOptions,
): Promise<RefreshResult> {
  const body = await postJson(`${authBaseUrl}/refreshToken`, {
    headers: { "user-agent": refreshUserAgent(login.fingerprint) },
    body: { refreshToken: login.refreshToken },
  }, options);
  return toRefreshResult(body, true);
}

/** The client registration and refresh token of an AWS SSO OIDC login. */
export interface OidcLogin {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

/** Refreshes an AWS SSO OIDC login (CreateToken): `POST {oidcBaseUrl}/token`. */
export async function refreshAwsSsoOidc(
  oidcBaseUrl: string,
  login: OidcLogin,
  options: RefreshOptions,
): Promise<RefreshResult> {
  const body = await postJson(`${oidcBaseUrl}/token`, {
    headers: {},
    body: {
      grantType: "refresh_token",
      clientId: login.clientId,
      clientSecret: login.clientSecret,
      refreshToken: login.refreshToken,
    },
  }, options);
  return toRefreshResult(body, false);
}

async function postJson(
  url: string,
  request: { headers: Record<string, string>; body: Record<string, string> },
  options: RefreshOptions,
): Promise<Record<string, unknown>> {
  const host = new URL(url).host;
  const timeoutMs = options.timeoutMs ?? REFRESH_TIMEOUT_MS;
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "accept": "application/json",
        ...request.headers,
      },
      body: JSON.stringify(request.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw networkError(host, err, timeoutMs);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw networkError(host, err, timeoutMs);
  }
  if (!res.ok) {
    const detail = errorDetail(text);
    const suffix = detail ? ` (${detail})` : "";
    if (res.status === 400 || res.status === 401) {
      throw new GatewayError(
        "kiro_auth",
        `Kiro login expired or was revoked: token refresh at ${host} answered HTTP ${res.status}${suffix}: ${options.loginHint}`,
        { upstreamStatus: res.status },
      );
    }
    throw new GatewayError(
      "upstream",
      `Cannot refresh Kiro token: ${host} answered HTTP ${res.status}${suffix}`,
      { upstreamStatus: res.status },
    );
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // reported below
  }
  throw new GatewayError("upstream", `Cannot refresh Kiro token: ${host} answered without JSON`);
}

function networkError(host: string, err: unknown, timeoutMs: number): GatewayError {
  if (err instanceof DOMException && err.name === "TimeoutError") {
    return new GatewayError(
      "upstream_timeout",
      `Cannot refresh Kiro token: ${host} did not answer within ${timeoutMs / 1000} s`,
      { cause: err },
    );
  }
  return new GatewayError(
    "upstream_unreachable",
    `Cannot refresh Kiro token: ${host} is unreachable: ${(err as Error).message}`,
    { cause: err },
  );
}

/** The error code and description of an OAuth or Kiro error body, never the whole body. */
function errorDetail(text: string): string {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object") return "";
    const obj = value as Record<string, unknown>;
    const parts = [obj.error, obj.error_description, obj.message]
      .filter((part): part is string => typeof part === "string" && part !== "")
      .map((part) => part.slice(0, 200));
    return parts.join(": ");
  } catch {
    return "";
  }
}

function toRefreshResult(body: Record<string, unknown>, desktop: boolean): RefreshResult {
  const accessToken = body.accessToken;
  if (typeof accessToken !== "string" || accessToken === "") {
    throw new GatewayError(
      "upstream",
      `Cannot refresh Kiro token: the ${
        desktop ? "Kiro desktop" : "AWS SSO OIDC"
      } answer has no accessToken`,
    );
  }
  const expiresIn = Number(body.expiresIn);
  return {
    accessToken,
    refreshToken: typeof body.refreshToken === "string" && body.refreshToken !== ""
      ? body.refreshToken
      : undefined,
    expiresInSeconds: Number.isFinite(expiresIn) && expiresIn > 0
      ? expiresIn
      : DEFAULT_EXPIRES_IN_SECONDS,
    profileArn: typeof body.profileArn === "string" && body.profileArn !== ""
      ? body.profileArn
      : undefined,
  };
}

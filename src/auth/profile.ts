/**
 * Profile ARN discovery through ListAvailableProfiles (spec §1.1, §5.5) for logins that carry
 * no profile ARN: the runtime host rejects requests without one.
 */
import { GatewayError } from "../errors.ts";

/** Options of discoverProfileArn. */
export interface DiscoverProfileOptions {
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Pages followed through `nextToken` before giving up. */
  maxPages?: number;
}

const PROFILE_ARN_HINT =
  "set PROFILE_ARN to your Kiro profile ARN (arn:aws:codewhisperer:REGION:ACCOUNT:profile/ID)";

/**
 * Returns the first profile ARN the account may use, following `nextToken`. Throws a
 * GatewayError whose message says how to set PROFILE_ARN: `kiro_auth` when the call is refused
 * or lists no profile, `upstream_unreachable` when the host cannot be reached.
 */
export async function discoverProfileArn(
  managementBaseUrl: string,
  accessToken: string,
  options: DiscoverProfileOptions = {},
): Promise<string> {
  const url = `${managementBaseUrl}/ListAvailableProfiles`;
  const host = new URL(url).host;
  let nextToken: string | undefined;
  for (let page = 0; page < (options.maxPages ?? 10); page++) {
    let res: Response;
    let text: string;
    try {
      res = await (options.fetch ?? fetch)(url, {
        method: "POST",
        headers: {
          "authorization": `Bearer ${accessToken}`,
          "content-type": "application/json",
          "accept": "application/json",
        },
        body: JSON.stringify(nextToken === undefined ? {} : { nextToken }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
      text = await res.text();
    } catch (err) {
      throw new GatewayError(
        "upstream_unreachable",
        `No Kiro profile ARN is known and ListAvailableProfiles at ${host} is unreachable: ${PROFILE_ARN_HINT}`,
        { cause: err },
      );
    }
    if (!res.ok) {
      throw new GatewayError(
        "kiro_auth",
        `No Kiro profile ARN is known and ListAvailableProfiles at ${host} answered HTTP ${res.status}: ${PROFILE_ARN_HINT}`,
        { upstreamStatus: res.status },
      );
    }
    const body = parseBody(text);
    const arn = body.profiles.find((arn) => arn !== undefined);
    if (arn !== undefined) return arn;
    if (body.nextToken === undefined) break;
    nextToken = body.nextToken;
  }
  throw new GatewayError(
    "kiro_auth",
    `No Kiro profile ARN is known and ListAvailableProfiles at ${host} lists no profile for this login: ${PROFILE_ARN_HINT}`,
  );
}

function parseBody(text: string): { profiles: (string | undefined)[]; nextToken?: string } {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object") return { profiles: [] };
    const obj = value as { profiles?: unknown; nextToken?: unknown };
    const profiles = Array.isArray(obj.profiles)
      ? obj.profiles.map((profile: unknown) => {
        const arn = profile !== null && typeof profile === "object"
          ? (profile as { arn?: unknown }).arn
          : undefined;
        return typeof arn === "string" && arn !== "" ? arn : undefined;
      })
      : [];
    const nextToken = typeof obj.nextToken === "string" && obj.nextToken !== ""
      ? obj.nextToken
      : undefined;
    return { profiles, nextToken };
  } catch {
    return { profiles: [] };
  }
}

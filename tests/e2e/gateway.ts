/**
 * The real gateway (credentials, Kiro client, pipeline, dialects) on 127.0.0.1:0 in front of a
 * fake Kiro that also answers token refreshes, for end-to-end tests with the official SDKs.
 */
import { createGateway } from "../../src/app.ts";
import { type Config, defaultConfig } from "../../src/config.ts";
import { Logger } from "../../src/log.ts";
import { MemoryState } from "../../src/state/state.ts";
import { type FakeKiro, startFakeKiro } from "../fake_kiro.ts";

/** The profile ARN the fake account has. */
export const E2E_ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/E2ETEST";
/** The key clients use. */
export const E2E_KEY = "e2e-key";

/** A running gateway with its fake upstream. */
export interface E2eGateway extends AsyncDisposable {
  url: string;
  kiro: FakeKiro;
  logs: string[];
  /** Access tokens handed out by the fake refresh endpoint, in order. */
  issuedTokens: string[];
}

/** Starts the fake Kiro and a real gateway in front of it; `now` replaces the gateway's clock. */
export async function startE2eGateway(
  overrides: Partial<Config> = {},
  options: { now?: () => number } = {},
): Promise<E2eGateway> {
  const kiro = await startFakeKiro();
  const issuedTokens: string[] = [];
  kiro.route("POST", "/refreshToken", () => {
    const token = `access-${issuedTokens.length + 1}`;
    issuedTokens.push(token);
    return Response.json({ accessToken: token, refreshToken: "refresh-next", expiresIn: 3600 });
  });
  const logs: string[] = [];
  const config = defaultConfig({
    proxyApiKey: E2E_KEY,
    proxyApiKeyGenerated: false,
    refreshToken: "refresh-initial",
    profileArn: E2E_ARN,
    upstream: { api: kiro.url, auth: kiro.url, management: kiro.url, oidc: kiro.url, q: kiro.url },
    ...overrides,
  });
  const gateway = await createGateway(config, {
    logger: new Logger({ level: "debug", write: (line) => logs.push(line) }),
    homeDir: "/nonexistent-home",
    state: new MemoryState(options.now),
    now: options.now,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, gateway.handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    kiro,
    logs,
    issuedTokens,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await gateway.close();
      await kiro[Symbol.asyncDispose]();
    },
  };
}

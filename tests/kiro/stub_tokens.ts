/** A token source for Kiro client tests that needs no credentials. */
import type { KiroAccess, TokenSource } from "../../src/auth/token_source.ts";

/** The profile ARN stub tokens carry unless told otherwise. */
export const STUB_ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/TEST";

/**
 * A token source that hands out token-1, token-2, ... one per forced refresh, for the account
 * `profileArn`; `forced` lists the tokens each forced refresh rejected.
 */
export function stubTokens(profileArn: string = STUB_ARN): TokenSource & { forced: string[] } {
  let generation = 1;
  const access = (): KiroAccess => ({
    accessToken: `token-${generation}`,
    profileArn,
    apiRegion: "us-east-1",
  });
  const tokens: TokenSource & { forced: string[] } = {
    forced: [],
    getAccess: () => Promise.resolve(access()),
    forceRefresh(rejected) {
      tokens.forced.push(rejected);
      generation++;
      return Promise.resolve(access());
    },
    status: () => ({
      source: "demo",
      authType: "kiro_desktop",
      apiRegion: "us-east-1",
      ssoRegion: "us-east-1",
    }),
  };
  return tokens;
}

import assert from "node:assert/strict";
import type { CredentialStatus } from "../../src/auth/token_source.ts";
import { accountsHealth, singleAccount, singleAccountView } from "../../src/ops/accounts.ts";

const BASE: CredentialStatus = {
  source: "json_file",
  authType: "kiro_desktop",
  apiRegion: "us-east-1",
  ssoRegion: "us-east-1",
};
const NOW = Date.parse("2026-01-01T12:00:00Z");

Deno.test("the single credential source is one account, dead only without a usable token", async (t) => {
  await t.step("a valid token", () => {
    assert.deepEqual(singleAccount({ ...BASE, expiresAt: "2026-01-01T13:00:00.000Z" }, NOW), {
      name: "default",
      status: "ok",
      tokenExpiresAt: "2026-01-01T13:00:00.000Z",
    });
  });
  await t.step("an expired token is refreshed on the next request, so still ok", () => {
    const account = singleAccount({ ...BASE, expiresAt: "2026-01-01T11:00:00.000Z" }, NOW);
    assert.equal(account.status, "ok");
  });
  await t.step("a failed refresh with a token still valid stays ok", () => {
    const account = singleAccount({
      ...BASE,
      expiresAt: "2026-01-01T12:30:00.000Z",
      lastError: "refresh failed",
    }, NOW);
    assert.equal(account.status, "ok");
    assert.equal(account.reason, undefined);
  });
  await t.step("a failed refresh and no valid token: dead, with the reason", () => {
    const account = singleAccount({ ...BASE, lastError: "Cannot refresh: HTTP 400" }, NOW);
    assert.equal(account.status, "dead");
    assert.equal(account.reason, "Cannot refresh: HTTP 400");
  });
});

Deno.test("health is healthy when every enabled account is up, down when none is", () => {
  const ok = { name: "a", status: "ok" };
  const cooling = { name: "b", status: "cooling" };
  const disabled = { name: "c", status: "disabled" };
  assert.equal(accountsHealth([ok, disabled]), "healthy");
  assert.equal(accountsHealth([ok, cooling]), "degraded");
  assert.equal(accountsHealth([cooling, disabled]), "down");
  assert.equal(accountsHealth([]), "healthy");
});

Deno.test("one login shows its token state with the pool's credit and request counts", async () => {
  const tokens = { status: () => ({ ...BASE, expiresAt: "2026-01-01T13:00:00.000Z" }) };
  const pool = {
    snapshot: () =>
      Promise.resolve([
        { name: "default", status: "cooling", creditLeft: 412.5, inFlight: 1, requests: 9 },
      ]),
  };
  assert.deepEqual(await singleAccountView(tokens, { now: () => NOW, pool }).snapshot(), [{
    name: "default",
    status: "ok",
    tokenExpiresAt: "2026-01-01T13:00:00.000Z",
    creditLeft: 412.5,
    inFlight: 1,
    requests: 9,
  }]);
  assert.deepEqual(await singleAccountView(tokens, { now: () => NOW }).snapshot(), [{
    name: "default",
    status: "ok",
    tokenExpiresAt: "2026-01-01T13:00:00.000Z",
  }]);
});

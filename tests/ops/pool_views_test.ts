import assert from "node:assert/strict";
import { tempDir } from "../helpers.ts";
import { POOL_KEY, startFakePool, startPoolGateway, tokenEntries } from "../accounts/fake_pool.ts";
import { parseMetrics, valueOf } from "./prometheus_parse.ts";

Deno.test("with several accounts, metrics and /status.json show each one by name", async () => {
  await using tmp = await tempDir();
  await using pool = await startFakePool(["alpha", "beta"]);
  await using gateway = await startPoolGateway(pool, {
    accounts: tokenEntries(["alpha", "beta"]),
    dir: tmp.path,
  });
  pool.account("alpha").refreshFault = 400; // its refresh token is rejected: dead
  const reply = await gateway.chat("Hi");
  assert.equal(reply.text, "Hello from beta");
  const requestId = reply.headers.get("x-request-id");

  const res = await fetch(`${gateway.url}/metrics`, {
    headers: { authorization: `Bearer ${POOL_KEY}` },
  });
  const text = await res.text();
  const metrics = await parseMetrics(text);
  assert.equal(valueOf(metrics, "kiro_gateway_account_up", { account: "alpha" }), 0);
  assert.equal(valueOf(metrics, "kiro_gateway_account_up", { account: "beta" }), 1);
  const refreshes = (account: string, result: string) =>
    valueOf(metrics, "kiro_gateway_token_refreshes_total", { account, result });
  assert.equal(refreshes("alpha", "failure"), 1);
  assert.equal(refreshes("beta", "success"), 1);
  assert.equal(
    valueOf(metrics, "kiro_gateway_upstream_retries_total", { reason: "account_failover" }),
    1,
  );
  for (const secret of [POOL_KEY, "refresh-alpha", "refresh-beta"]) {
    assert.ok(!text.includes(secret), secret);
  }

  const status = (await gateway.getJson("/status.json")).body as {
    health: { status: string };
    accounts: { name: string; status: string }[];
    recent: { requestId: string; account?: string }[];
  };
  assert.deepEqual(status.accounts.map((a) => [a.name, a.status]), [
    ["alpha", "dead"],
    ["beta", "ok"],
  ]);
  assert.equal(status.health.status, "degraded");
  assert.equal(status.recent[0]?.requestId, requestId);
  assert.equal(status.recent[0]?.account, "beta");
});

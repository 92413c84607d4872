import assert from "node:assert/strict";
import { fakeSearchResults, MCP_PATH } from "../fake_kiro.ts";
import { postWebSearch, tempDir } from "../helpers.ts";
import { POOL_KEY, startFakePool, startPoolGateway, tokenEntries } from "./fake_pool.ts";

Deno.test("web searches use an account's own token and profile, the next one when it fails", async () => {
  await using tmp = await tempDir();
  await using pool = await startFakePool(["a", "b"]);
  const seen: Array<{ account?: string; arn?: string }> = [];
  pool.kiro.route("POST", MCP_PATH, (request) => {
    const token = (request.headers.authorization ?? "").replace(/^Bearer /, "");
    const account = [...pool.accounts.values()].find((a) => a.issued.includes(token));
    seen.push({ account: account?.name, arn: request.headers["x-amzn-kiro-profile-arn"] });
    if (account?.name === "a") {
      return Response.json({ message: "Improperly formed request.", reason: null }, {
        status: 400,
      });
    }
    const body = request.body as { id: string; params: { arguments: { query: string } } };
    const query = body.params.arguments.query;
    const text = JSON.stringify({ results: fakeSearchResults(query), query, error: null });
    return Response.json({
      jsonrpc: "2.0",
      id: body.id,
      result: { content: [{ type: "text", text }] },
    });
  });
  const url = pool.url;
  await using gateway = await startPoolGateway(pool, {
    accounts: tokenEntries(["a", "b"]),
    dir: tmp.path,
    config: { upstream: { api: url, auth: url, management: url, oidc: url, q: url } },
  });
  const body = await postWebSearch(gateway.url, { key: POOL_KEY, query: "deno", maxTokens: 100 });
  assert.deepEqual(
    body.content[1].content.map((hit: { url: string }) => hit.url),
    fakeSearchResults("deno").map((hit) => hit.url),
  );
  assert.deepEqual(seen, [
    { account: "a", arn: pool.account("a").profileArn },
    { account: "b", arn: pool.account("b").profileArn },
  ]);
  // A search failure is not a chat failure: account a stays healthy.
  const { body: health } = await gateway.getJson("/health"); // accounts need the key
  const rows = health.accounts as Array<{ name: string; status: string }>;
  assert.deepEqual(rows.map((row) => [row.name, row.status]), [["a", "ok"], ["b", "ok"]]);
});

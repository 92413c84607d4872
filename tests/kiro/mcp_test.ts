import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config.ts";
import { GatewayError } from "../../src/errors.ts";
import { KiroClient } from "../../src/kiro/client.ts";
import { buildMcpSearchBody, KiroWebSearch, parseMcpSearchAnswer } from "../../src/kiro/mcp.ts";
import { silentLogger } from "../../src/log.ts";
import { FAILING_QUERY, fakeSearchResults, MCP_PATH, startFakeKiro } from "../fake_kiro.ts";
import { STUB_ARN as ARN, stubTokens } from "./stub_tokens.ts";

function makeSearch(url: string, arn = ARN) {
  const tokens = stubTokens(arn);
  const sleeps: number[] = [];
  const client = new KiroClient({
    config: defaultConfig({ upstream: { q: url } }),
    tokens,
    logger: silentLogger(),
    fingerprint: "f".repeat(64),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  return { search: new KiroWebSearch(client, { now: () => 1_767_225_600_000 }), tokens, sleeps };
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${err}`);
    return err;
  }
  assert.fail("expected a rejection");
}

Deno.test("a web search posts JSON-RPC to KIRO_Q_URL/mcp with the profile ARN and SDK headers", async () => {
  await using kiro = await startFakeKiro();
  const { search } = makeSearch(kiro.url);
  const hits = await search.search("deno 2 release", new AbortController().signal);
  assert.deepEqual(
    hits,
    fakeSearchResults("deno 2 release").map((hit) => ({
      title: hit.title,
      url: hit.url,
      snippet: hit.snippet,
      publishedAt: hit.publishedDate,
    })),
  );
  const request = await kiro.nextRequest(MCP_PATH);
  assert.equal(request.method, "POST");
  assert.equal(request.headers["authorization"], "Bearer token-1");
  assert.equal(request.headers["x-amzn-kiro-profile-arn"], ARN);
  assert.equal(request.headers["content-type"], "application/json");
  assert.equal(request.headers["accept"], "*/*");
  assert.equal(request.headers["amz-sdk-request"], "attempt=1; max=3");
  assert.match(request.headers["amz-sdk-invocation-id"]!, /^[0-9a-f-]{36}$/);
  assert.match(request.headers["user-agent"]!, /^aws-sdk-js\/.* KiroIDE-[\d.]+-f{64}$/);
  assert.match(request.headers["x-amz-user-agent"]!, /^aws-sdk-js\/[\d.]+ KiroIDE-/);
  const body = request.body as Record<string, unknown>;
  assert.match(
    String(body.id),
    /^web_search_tooluse_[A-Za-z0-9]{22}_1767225600000_[A-Za-z0-9]{8}$/,
  );
  assert.deepEqual({ ...body, id: "" }, {
    id: "",
    jsonrpc: "2.0",
    method: "tools/call",
    params: { name: "web_search", arguments: { query: "deno 2 release" } },
  });
});

Deno.test("an account without a profile ARN sends no profile header (and the fake says 400 as Kiro does)", async () => {
  await using kiro = await startFakeKiro();
  const { search } = makeSearch(kiro.url, "");
  const err = await rejection(search.search("anything", new AbortController().signal));
  assert.equal(err.upstreamStatus, 400);
  const request = await kiro.nextRequest(MCP_PATH);
  assert.equal(request.headers["x-amzn-kiro-profile-arn"], undefined);
});

Deno.test("a JSON-RPC error is a failure naming Kiro's message, not an empty result", async () => {
  await using kiro = await startFakeKiro();
  const { search } = makeSearch(kiro.url);
  const err = await rejection(search.search(FAILING_QUERY, new AbortController().signal));
  assert.equal(err.kind, "upstream");
  assert.match(err.message, /Kiro web search failed: Search backend unavailable/);
});

Deno.test("the MCP call refreshes on 403 and backs off on 5xx like the chat call", async () => {
  await using kiro = await startFakeKiro();
  const answers = [
    () => Response.json({ message: "expired" }, { status: 403 }),
    () => Response.json({ message: "busy" }, { status: 503 }),
  ];
  kiro.route("POST", MCP_PATH, (request) => {
    const next = answers.shift();
    if (next) return next();
    const text = JSON.stringify({ results: [], totalResults: 0, query: "q", error: null });
    return Response.json({
      jsonrpc: "2.0",
      id: (request.body as { id: string }).id,
      result: { content: [{ type: "text", text }] },
    });
  });
  const { search, tokens, sleeps } = makeSearch(kiro.url);
  assert.deepEqual(await search.search("q", new AbortController().signal), []);
  assert.deepEqual(tokens.forced, ["token-1"]);
  assert.deepEqual(sleeps, [2000]);
  const auth = kiro.requests.map((r) => r.headers["authorization"]);
  assert.deepEqual(auth, ["Bearer token-1", "Bearer token-2", "Bearer token-2"]);
});

Deno.test("MCP answers are parsed strictly", async (t) => {
  const wrap = (inner: unknown) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id: "x",
      result: { content: [{ type: "text", text: inner }] },
    });
  await t.step("a search error member is a failure", () => {
    const text = wrap(JSON.stringify({ results: [], error: "quota exceeded" }));
    assert.throws(() => parseMcpSearchAnswer(text), /Kiro web search failed: quota exceeded/);
  });
  await t.step("isError is a failure", () => {
    const text = JSON.stringify({
      jsonrpc: "2.0",
      result: { content: [{ type: "text", text: "rate limited" }], isError: true },
    });
    assert.throws(() => parseMcpSearchAnswer(text), /Kiro web search failed: rate limited/);
  });
  await t.step("a result text that is not JSON is unreadable", () => {
    assert.throws(
      () => parseMcpSearchAnswer(wrap("<html>")),
      (err: unknown) => err instanceof GatewayError && err.kind === "upstream_protocol",
    );
  });
  await t.step("a missing title falls back to the URL and a missing date is left out", () => {
    const text = wrap(JSON.stringify({ results: [{ url: "https://a.example/", snippet: null }] }));
    assert.deepEqual(parseMcpSearchAnswer(text), [
      { title: "https://a.example/", url: "https://a.example/", snippet: "" },
    ]);
  });
  await t.step("ids differ per call", () => {
    assert.notEqual(buildMcpSearchBody("q", 1).id, buildMcpSearchBody("q", 1).id);
  });
});

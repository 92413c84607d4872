import assert from "node:assert/strict";
import { GENERATE_PATH, MCP_PATH } from "../fake_kiro.ts";
import { contextUsageFrame, textFrame } from "../frames.ts";
import { postWebSearch } from "../helpers.ts";
import { E2E_KEY, startE2eGateway } from "./gateway.ts";
import { openAiClient } from "./sdk_clients.ts";

/** A forward HTTP proxy on 127.0.0.1 that records the absolute URLs it is asked for. */
function startForwardProxy() {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(`${req.method} ${req.url}`);
    const upstream = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("VPN_PROXY_URL carries every Kiro call: refresh and chat", async () => {
  await using proxy = startForwardProxy();
  await using gw = await startE2eGateway({ proxyUrl: proxy.url, fakeReasoning: false });
  gw.kiro.replay({ frames: [textFrame("via proxy"), contextUsageFrame(1)] });
  const client = openAiClient(gw.url);
  const reply = await client.chat.completions.create({
    model: "claude-sonnet-4.5",
    messages: [{ role: "user", content: "Hi" }],
  });
  assert.equal(reply.choices[0]!.message.content, "via proxy");
  assert.ok(
    proxy.seen.some((line) => line === `POST ${gw.kiro.url}/refreshToken`),
    proxy.seen.join(),
  );
  assert.ok(
    proxy.seen.some((line) => line === `POST ${gw.kiro.url}${GENERATE_PATH}`),
    proxy.seen.join(),
  );
});

Deno.test("VPN_PROXY_URL carries web searches (the MCP call) too", async () => {
  await using proxy = startForwardProxy();
  await using gw = await startE2eGateway({ proxyUrl: proxy.url });
  const body = await postWebSearch(gw.url, { key: E2E_KEY, query: "proxies", maxTokens: 100 });
  assert.equal(body.content[1].content.length, 2);
  assert.ok(proxy.seen.includes(`POST ${gw.kiro.url}${MCP_PATH}`), proxy.seen.join());
});

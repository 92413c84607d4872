import assert from "node:assert/strict";
import { contextUsageFrame, meteringFrame, textFrame } from "../frames.ts";
import { E2E_KEY, startE2eGateway } from "../e2e/gateway.ts";
import type { ChatBackend } from "../../src/core/backend.ts";
import { createFakeBackend } from "../fake_backend.ts";
import { within } from "../helpers.ts";
import { startTestGateway } from "../test_gateway.ts";
import { histogramOf, labelValues, parseMetrics, valueOf } from "./prometheus_parse.ts";

const AUTH = { authorization: `Bearer ${E2E_KEY}` };

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

async function chat(url: string, model: string, stream = false): Promise<Response> {
  return await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "Hi" }] }),
  });
}

async function scrape(url: string) {
  const res = await fetch(`${url}/metrics`, { headers: AUTH });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, metrics: await parseMetrics(text) };
}

Deno.test("GET /metrics counts known traffic exactly", async () => {
  await using gw = await startE2eGateway();
  let inputTokens = 0;
  let outputTokens = 0;
  const addUsage = (usage: Usage) => {
    inputTokens += usage.prompt_tokens;
    outputTokens += usage.completion_tokens;
  };

  // 1. A plain chat: the first call refreshes the token (refresh 1).
  gw.kiro.replay({ frames: [textFrame("Hello"), meteringFrame(0.25), contextUsageFrame(1)] });
  let res = await chat(gw.url, "claude-sonnet-4-5");
  assert.equal(res.status, 200);
  addUsage((await res.json()).usage);

  // 2. Kiro answers 403: the token is refreshed (refresh 2) and the call tried again.
  gw.kiro.replay(
    { status: 403, body: { message: "The bearer token included in the request is invalid." } },
    { frames: [textFrame("Again"), meteringFrame(0.5), contextUsageFrame(1)] },
  );
  res = await chat(gw.url, "claude-sonnet-4.5");
  assert.equal(res.status, 200);
  addUsage((await res.json()).usage);

  // 3. Kiro throttles once with Retry-After: 0, then answers.
  gw.kiro.replay(
    { status: 429, headers: { "retry-after": "0" }, body: { message: "Too many requests" } },
    { frames: [textFrame("Third"), meteringFrame(0.25), contextUsageFrame(1)] },
  );
  res = await chat(gw.url, "claude-sonnet-4.5");
  assert.equal(res.status, 200);
  addUsage((await res.json()).usage);

  // 4. A streamed reply with no completion signal: taken as cut off (a truncation).
  gw.kiro.replay({ frames: [textFrame("Cut off in the mid")] });
  res = await chat(gw.url, "claude-sonnet-4.5", true);
  assert.equal(res.status, 200);
  const sse = await res.text();
  const usageChunk = sse.split("\n").filter((line) => line.startsWith("data: {"))
    .map((line) => JSON.parse(line.slice(6))).find((chunk) => chunk.usage);
  addUsage(usageChunk.usage);

  // 5. A request without the key, and one to a path that no route has.
  const refused = await fetch(`${gw.url}/metrics`);
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  const unknown = await fetch(`${gw.url}/no/such/path-8d1f`, { headers: AUTH });
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();

  const { text, metrics } = await scrape(gw.url);
  const chatRoute = { route: "/v1/chat/completions" };
  assert.equal(valueOf(metrics, "kiro_gateway_requests_total", { ...chatRoute, status: "200" }), 4);
  assert.equal(
    valueOf(metrics, "kiro_gateway_requests_total", {
      route: "/metrics",
      status: "401",
    }),
    1,
  );
  assert.equal(
    valueOf(metrics, "kiro_gateway_requests_total", {
      route: "unmatched",
      status: "404",
    }),
    1,
  );
  assert.ok(!text.includes("path-8d1f"), "a raw path never becomes a label");
  const duration = histogramOf(metrics, "kiro_gateway_request_duration_seconds", chatRoute);
  assert.equal(duration?.count, 4);
  assert.equal(duration?.buckets["+Inf"], 4);
  assert.equal(
    histogramOf(metrics, "kiro_gateway_time_to_first_byte_seconds", chatRoute)?.count,
    4,
  );
  assert.equal(valueOf(metrics, "kiro_gateway_active_streams"), 0);

  const model = "claude-sonnet-4.5";
  assert.ok(inputTokens > 0 && outputTokens > 0);
  assert.equal(
    valueOf(metrics, "kiro_gateway_tokens_total", { direction: "input", model }),
    inputTokens,
  );
  assert.equal(
    valueOf(metrics, "kiro_gateway_tokens_total", { direction: "output", model }),
    outputTokens,
  );
  assert.equal(valueOf(metrics, "kiro_gateway_credits_total", { model }), 1);

  assert.equal(gw.issuedTokens.length, 2);
  assert.equal(
    valueOf(metrics, "kiro_gateway_token_refreshes_total", {
      account: "default",
      result: "success",
    }),
    2,
  );
  assert.equal(valueOf(metrics, "kiro_gateway_upstream_retries_total", { reason: "forbidden" }), 1);
  assert.equal(valueOf(metrics, "kiro_gateway_upstream_retries_total", { reason: "throttled" }), 1);
  assert.equal(valueOf(metrics, "kiro_gateway_account_up", { account: "default" }), 1);
  assert.equal(valueOf(metrics, "kiro_gateway_truncations_total"), 1);
  assert.equal(valueOf(metrics, "kiro_gateway_web_searches_total"), 0);

  for (const secret of [E2E_KEY, "refresh-initial", "refresh-next", "access-1", "access-2"]) {
    assert.ok(!text.includes(secret), `the metrics hold no secret (${secret})`);
  }
});

Deno.test("a failed token refresh is counted and the account shows as down", async () => {
  await using gw = await startE2eGateway();
  gw.kiro.route(
    "POST",
    "/refreshToken",
    () => Response.json({ message: "Invalid refresh token" }, { status: 400 }),
  );
  const res = await chat(gw.url, "claude-sonnet-4.5");
  assert.equal(res.status, 401);
  await res.body?.cancel();
  const { metrics } = await scrape(gw.url);
  assert.equal(
    valueOf(metrics, "kiro_gateway_token_refreshes_total", {
      account: "default",
      result: "failure",
    }),
    1,
  );
  assert.equal(valueOf(metrics, "kiro_gateway_account_up", { account: "default" }), 0);
});

Deno.test("200 requests with made-up model names add no label values", async () => {
  await using gw = await startE2eGateway();
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const res = await chat(gw.url, `made-up-${batch}-${i}-${crypto.randomUUID()}`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }));
  }
  const { text, metrics } = await scrape(gw.url);
  assert.deepEqual([...labelValues(metrics, "model")], ["other"]);
  assert.ok(!text.includes("made-up"));
  assert.equal(
    valueOf(metrics, "kiro_gateway_requests_total", {
      route: "/v1/chat/completions",
      status: "200",
    }),
    200,
  );
});

Deno.test("GET /metrics and /status.json refuse a missing or wrong key", async (t) => {
  await using gw = await startE2eGateway();
  for (const path of ["/metrics", "/status.json"]) {
    for (
      const [name, headers] of [
        ["no key", {}],
        ["a wrong key", { authorization: "Bearer not-the-key" }],
      ] as const
    ) {
      await t.step(`${path} with ${name}`, async () => {
        const res = await fetch(`${gw.url}${path}`, { headers });
        assert.equal(res.status, 401);
        const body = await res.json();
        assert.equal(body.error.type, "authentication_error");
      });
    }
  }
});

Deno.test("the pool's account view feeds account_up and /status.json", async () => {
  const accounts = [
    { name: "work", status: "ok", creditLeft: 812.5, inFlight: 0, requests: 3 },
    { name: "spare", status: "cooling", cooldownUntil: "2030-01-01T00:00:00.000Z", reason: "x" },
  ];
  await using gateway = startTestGateway({
    backend: createFakeBackend(),
    deps: { accounts: { snapshot: () => Promise.resolve(accounts) } },
  });
  const metrics = await parseMetrics(await (await gateway.get("/metrics")).text());
  assert.equal(valueOf(metrics, "kiro_gateway_account_up", { account: "work" }), 1);
  assert.equal(valueOf(metrics, "kiro_gateway_account_up", { account: "spare" }), 0);
  const status = await (await gateway.get("/status.json")).json();
  assert.deepEqual(status.accounts, accounts);
  assert.equal(status.health.status, "degraded");
});

Deno.test("web searches a backend reports are counted in the metrics and the journal", async () => {
  const fake = createFakeBackend();
  const backend: ChatBackend = {
    ...fake,
    send(chat, signal, context) {
      context?.onWebSearch?.();
      context?.onWebSearch?.();
      context?.onAccount?.("work");
      return fake.send(chat, signal, context);
    },
  };
  await using gateway = startTestGateway({ backend });
  const res = await gateway.post("/v1/chat/completions", {
    model: "claude-sonnet-4.5",
    messages: [{ role: "user", content: "Search" }],
  });
  await res.body?.cancel();
  const metrics = await parseMetrics(await (await gateway.get("/metrics")).text());
  assert.equal(valueOf(metrics, "kiro_gateway_web_searches_total"), 2);
  const status = await (await gateway.get("/status.json")).json();
  assert.equal(status.recent[0].webSearches, 2);
  assert.equal(status.recent[0].account, "work");
  assert.equal(status.recent[0].model, "claude-sonnet-4.5");
});

Deno.test("a route with an id in its path is labelled by its pattern, not the raw path", async () => {
  await using gateway = startTestGateway({ backend: createFakeBackend() });
  for (const id of ["resp_0a1b", "resp_ffee"]) {
    const res = await gateway.get(`/v1/responses/${id}`);
    await res.body?.cancel();
  }
  const text = await (await gateway.get("/metrics")).text();
  assert.ok(!text.includes("resp_0a1b") && !text.includes("resp_ffee"), text);
  const metrics = await parseMetrics(text);
  const routes = labelValues(metrics, "route");
  assert.ok(routes.has("/v1/responses/{id}"), [...routes].join(", "));
  const status = await (await gateway.get("/status.json")).json();
  assert.equal(status.recent[0].route, "/v1/responses/{id}");
});

Deno.test("active_streams counts a stream while it is sent and drops when the client leaves", async () => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend });
  const activeStreams = async () =>
    valueOf(
      await parseMetrics(await (await gateway.get("/metrics")).text()),
      "kiro_gateway_active_streams",
    );
  backend.script({
    events: [
      { type: "text", text: "Hello" },
      { type: "end", stopReason: "end_turn", usage: { inputTokens: 1, outputTokens: 1 } },
    ],
    holdAfter: 1,
  });
  const res = await gateway.post("/v1/chat/completions", {
    model: "claude-sonnet-4.5",
    stream: true,
    messages: [{ role: "user", content: "Hi" }],
  });
  const reader = res.body!.getReader();
  await reader.read(); // the first chunk: the stream is under way
  assert.equal(await activeStreams(), 1);
  await reader.cancel();
  await within(backend.cancelled);
  let active = await activeStreams();
  for (let tries = 0; active !== 0 && tries < 50; tries++) active = await activeStreams();
  assert.equal(active, 0);
  const metrics = await parseMetrics(await (await gateway.get("/metrics")).text());
  const route = { route: "/v1/chat/completions" };
  assert.equal(histogramOf(metrics, "kiro_gateway_time_to_first_byte_seconds", route)?.count, 1);
});

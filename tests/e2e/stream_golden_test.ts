/**
 * The whole streaming pipe, byte for byte: the same Kiro answer, cut into network chunks in
 * several ways (a frame per chunk, everything in one chunk, byte by byte, odd sizes), goes
 * through the real gateway in each dialect and must give exactly the golden SSE in
 * tests/golden/pipeline/ (UPDATE_GOLDEN=1 rewrites it). However the answer arrives, the client
 * sees the same bytes.
 */
import assert from "node:assert/strict";
import { createGateway } from "../../src/app.ts";
import { defaultConfig } from "../../src/config.ts";
import { Logger } from "../../src/log.ts";
import { MemoryState } from "../../src/state/state.ts";
import { type FakeReply, startFakeKiro } from "../fake_kiro.ts";
import { contextUsageFrame, meteringFrame, textFrame, toolFrames } from "../frames.ts";
import { assertGolden } from "../golden_helper.ts";

const KEY = "golden-key";

/** Text that needs JSON escapes: quotes, backslashes, controls, line separators, astral. */
const FRAMES = [
  textFrame("Hello"),
  textFrame(', "world" \\ back\tslash\n'),
  textFrame("caf\u00e9 \u2028 \u2029 \u0000\u001f \ud83d\ude00 <b>&amp;</b>"),
  textFrame(" and one more line.\r\n"),
  ...toolFrames("tooluse_G1", "get_weather", ['{"city": "Par', 'is", "unit": "c"}']),
  meteringFrame(0.0123),
  contextUsageFrame(2.5),
];

const TOOL = {
  name: "get_weather",
  description: "Weather",
  schema: { type: "object", properties: { city: { type: "string" }, unit: { type: "string" } } },
};

const DELIVERIES: Record<string, Pick<FakeReply, "chunkSizes">> = {
  "one frame per chunk": {},
  "one chunk": { chunkSizes: [1 << 20] },
  "byte by byte": { chunkSizes: [1] },
  "odd sizes": { chunkSizes: [7, 131, 3, 61] },
};

const REQUESTS = {
  openai: {
    path: "/v1/chat/completions",
    body: {
      model: "claude-sonnet-4.5",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [{
        type: "function",
        function: { name: TOOL.name, description: TOOL.description, parameters: TOOL.schema },
      }],
    },
  },
  anthropic: {
    path: "/v1/messages",
    body: {
      model: "claude-sonnet-4.5",
      max_tokens: 1024,
      stream: true,
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [{ name: TOOL.name, description: TOOL.description, input_schema: TOOL.schema }],
    },
  },
  responses: {
    path: "/v1/responses",
    body: {
      model: "claude-sonnet-4.5",
      stream: true,
      store: false,
      input: "Weather in Paris?",
      tools: [{
        type: "function",
        name: TOOL.name,
        description: TOOL.description,
        parameters: TOOL.schema,
        strict: false,
      }],
    },
  },
};

Deno.test("The streaming pipe gives the golden bytes in every dialect, however Kiro's answer is cut", async (t) => {
  await using kiro = await startFakeKiro();
  kiro.route(
    "POST",
    "/refreshToken",
    () => Response.json({ accessToken: "access-1", refreshToken: "refresh-2", expiresIn: 3600 }),
  );
  let ids = 0;
  const config = defaultConfig({
    proxyApiKey: KEY,
    proxyApiKeyGenerated: false,
    refreshToken: "refresh-1",
    profileArn: "arn:aws:codewhisperer:us-east-1:123456789012:profile/GOLDEN",
    upstream: { api: kiro.url, auth: kiro.url, management: kiro.url, oidc: kiro.url, q: kiro.url },
  });
  const gateway = await createGateway(config, {
    logger: new Logger({ level: "error", write: () => {} }),
    homeDir: "/nonexistent-home",
    state: new MemoryState(),
    now: () => 1_767_225_600_000,
    deps: { randomHex: (bytes) => (++ids).toString(16).padStart(bytes * 2, "0") },
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, gateway.handler);
  try {
    for (const [dialect, request] of Object.entries(REQUESTS)) {
      for (const [delivery, cut] of Object.entries(DELIVERIES)) {
        await t.step(`${dialect}, ${delivery}`, async () => {
          ids = 0;
          kiro.replay({ frames: FRAMES, ...cut });
          const res = await fetch(`http://127.0.0.1:${server.addr.port}${request.path}`, {
            method: "POST",
            headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
            body: JSON.stringify(request.body),
          });
          assert.equal(res.status, 200);
          await assertGolden(await res.text(), `pipeline/${dialect}.sse`);
        });
      }
    }
  } finally {
    await server.shutdown();
    await gateway.close();
  }
});

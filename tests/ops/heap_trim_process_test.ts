import assert from "node:assert/strict";
import { meteringFrame, textFrame } from "../frames.ts";
import { tempDir } from "../helpers.ts";
import { emptySandbox, kiroUrlsEnv, refreshingFakeKiro, spawnGateway } from "./gateway_process.ts";

const KEY = "heap-trim-test-key-0123456789";

Deno.test("the gateway started as the start task gives its heap back once an answer is over", async () => {
  await using tmp = await tempDir();
  await using kiro = await refreshingFakeKiro();
  // About 1 MiB of answer text: enough for V8 to grow its young generation by more than the
  // trimmer's 8 MiB (measured: 0.5 MiB already grows the heap from ~18 to ~28 MB).
  const delta = "the gateway streams this answer in many small deltas. ".repeat(4);
  kiro.replay({
    frames: [...Array.from({ length: 5_000 }, () => textFrame(delta)), meteringFrame(0.1)],
    chunkSizes: [16 * 1024],
  });
  const { cwd, home } = await emptySandbox(tmp.path);
  await using gateway = spawnGateway({
    cwd,
    home,
    env: {
      PROXY_API_KEY: KEY,
      REFRESH_TOKEN: "refresh-1",
      PROFILE_ARN: "arn:aws:codewhisperer:us-east-1:123456789012:profile/TRIM",
      ...kiroUrlsEnv(kiro.url),
      FAKE_REASONING: "false",
      WEB_SEARCH: "off",
      LOG_LEVEL: "debug",
    },
    args: ["--port", "0"],
  });
  const url = await gateway.waitForUrl();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-4.5",
      stream: true,
      messages: [{ role: "user", content: "Write a long answer" }],
    }),
  });
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.ok(body.endsWith("data: [DONE]\n\n"), body.slice(-200));
  assert.ok(body.length > 1024 * 1024, `${body.length} bytes`);
  const line = await gateway.waitForLine(/Heap trimmed after a burst/);
  const before = Number(line.match(/heapTotalMiBBefore[=:"]+(\d+)/)?.[1]);
  const after = Number(line.match(/heapTotalMiBAfter[=:"]+(\d+)/)?.[1]);
  assert.ok(after < before, line);
  assert.ok(!gateway.lines.some((l) => l.includes("Heap trimming is off")));
});

import assert from "node:assert/strict";
import { textFrame } from "../frames.ts";
import { tempDir, within } from "../helpers.ts";
import { emptySandbox, kiroUrlsEnv, refreshingFakeKiro, spawnGateway } from "./gateway_process.ts";

const KEY = "shutdown-test-key-0123456789";
const ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/SHUTDOWN";

Deno.test("SIGTERM lets open streams run out the grace period, then ends them in-band", async () => {
  await using tmp = await tempDir();
  await using kiro = await refreshingFakeKiro();
  const stalled = kiro.replay(
    { frames: [textFrame("Working on it"), textFrame("never sent")], stallAfter: 1 },
    { frames: [textFrame("Working on it"), textFrame("never sent")], stallAfter: 1 },
  );
  const { cwd, home } = await emptySandbox(tmp.path);
  await using gateway = spawnGateway({
    cwd,
    home,
    env: {
      PROXY_API_KEY: KEY,
      REFRESH_TOKEN: "refresh-1",
      PROFILE_ARN: ARN,
      ...kiroUrlsEnv(kiro.url),
      FAKE_REASONING: "false",
      WEB_SEARCH: "off",
      SHUTDOWN_GRACE_SECONDS: "0.5",
    },
    args: ["--port", "0"],
  });
  const url = await gateway.waitForUrl();
  const open = async (path: string, body: unknown, headers: Record<string, string>) => {
    const res = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200, path);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("Working on it")) text += (await reader.read()).value ?? "";
    return async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += value;
      }
    };
  };
  const message = [{ role: "user", content: "Hi" }];
  const rests = [
    await open(
      "/v1/chat/completions",
      { model: "claude-sonnet-4.5", stream: true, messages: message },
      { authorization: `Bearer ${KEY}` },
    ),
    await open(
      "/v1/messages",
      { model: "claude-sonnet-4.5", max_tokens: 100, stream: true, messages: message },
      { "x-api-key": KEY },
    ),
  ];
  await within(Promise.all(stalled.map((s) => s.request)), 10_000, "both calls reaching Kiro");
  gateway.child.kill("SIGTERM");
  const [openAi, anthropic] = await within(
    Promise.all(rests.map((rest) => rest())),
    20_000,
    "the streams' end",
  );
  assert.match(openAi!, /data: \{"error":\{[^\n]*shutting down[^\n]*\n\ndata: \[DONE\]\n\n$/);
  assert.match(anthropic!, /event: error\ndata: [^\n]*"overloaded_error"[^\n]*shutting down/);
  assert.ok(!openAi!.includes("never sent") && !anthropic!.includes("never sent"));
  await within(Promise.all(stalled.map((s) => s.cancelled)), 10_000, "the Kiro calls' end");
  const result = await gateway.exited();
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Shutting down/);
  assert.match(result.stderr + result.stdout, /Shutdown grace period over/);
});

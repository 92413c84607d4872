import assert from "node:assert/strict";
import { Logger } from "../../src/log.ts";
import { createFakeBackend } from "../fake_backend.ts";
import { startTestGateway, TEST_API_KEY } from "../test_gateway.ts";

Deno.test("each request writes one JSON log line with its facts and no secret", async (t) => {
  const lines: string[] = [];
  const logger = new Logger({ level: "info", format: "json", write: (line) => lines.push(line) });
  await using gateway = startTestGateway({ backend: createFakeBackend(42), deps: { logger } });
  const requestLines = () =>
    lines.map((line) => JSON.parse(line)).filter((r) => r.msg === "request");
  await t.step("a streamed chat completion", async () => {
    const res = await gateway.post("/v1/chat/completions", {
      model: "claude-sonnet-4.5",
      stream: true,
      messages: [{ role: "user", content: "Hi" }],
    });
    await res.text();
    const [line, ...more] = requestLines();
    assert.deepEqual(more, []);
    assert.equal(line.requestId, res.headers.get("x-request-id"));
    assert.equal(line.path, "/v1/chat/completions");
    assert.equal(line.status, 200);
    assert.equal(line.model, "claude-sonnet-4.5");
    assert.equal(line.stream, true);
    assert.equal(line.inputTokens, 42);
    assert.equal(line.outputTokens, 2);
    assert.equal(typeof line.durationMs, "number");
    assert.equal(typeof line.ttfbMs, "number");
    assert.ok(line.ttfbMs <= line.durationMs);
    assert.equal(line.level, "info");
  });
  await t.step("a rejected request still gets its line", async () => {
    lines.length = 0;
    const res = await gateway.post("/v1/messages", {}, { "x-api-key": "wrong-key-123456789" });
    await res.text();
    const [line] = requestLines();
    assert.equal(line.status, 401);
    assert.equal(line.path, "/v1/messages");
  });
  await t.step("no line holds the API key", () => {
    assert.ok(lines.length > 0);
    for (const line of lines) {
      assert.ok(!line.includes(TEST_API_KEY), line);
      assert.ok(!line.includes("wrong-key-123456789"), line);
    }
  });
});

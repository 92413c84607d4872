import assert from "node:assert/strict";
import { TokenCounter } from "../../src/core/tokens.ts";

Deno.test("token counts follow cl100k_base for ordinary text", () => {
  const counter = new TokenCounter();
  assert.equal(counter.count(""), 0);
  assert.equal(counter.count("hello world"), 2);
  assert.equal(counter.countClaude("hello world"), 2); // floor(2 × 1.15)
  const text = "hello world ".repeat(100);
  assert.equal(counter.countClaude(text), Math.floor(counter.count(text) * 1.15));
  assert.ok(counter.count(text) >= 200 && counter.count(text) <= 202);
});

Deno.test("a long run without spaces is counted in 256-character pieces", () => {
  // BPE is quadratic in the length of one word: 200,000 letters in one piece take tens of
  // seconds, so long runs are cut; the count stays close to the whole-word count.
  const counter = new TokenCounter();
  const piece = new TokenCounter().count("x".repeat(256));
  assert.equal(counter.count("x".repeat(256 * 100)), piece * 100);
  const fresh = new TokenCounter();
  assert.equal(
    counter.count(`hello ${"x".repeat(512)} world`),
    fresh.count("hello ") + 2 * piece + fresh.count(" world"),
  );
  const tokens = counter.count("x".repeat(200_000));
  assert.ok(tokens > 20_000 && tokens < 30_000, String(tokens));
});

Deno.test("a run of ten million characters is counted like its 256-character pieces", () => {
  // One unbounded regexp match over such a run overflowed V8's stack (count_tokens said 500).
  const counter = new TokenCounter({ maxCachedChars: 0 });
  const piece = counter.count("x".repeat(256));
  const run = 256 * 40_000 + 100;
  const fresh = new TokenCounter();
  assert.equal(
    counter.count(`${"x".repeat(run)} end`),
    piece * 40_000 + fresh.count("x".repeat(100)) + fresh.count(" end"),
  );
});

Deno.test("cached counts equal fresh counts and the cache stays within its bound", () => {
  const counter = new TokenCounter({ maxCachedChars: 5000 });
  const texts = Array.from({ length: 10 }, (_, i) => `message ${i} `.repeat(100));
  const first = texts.map((t) => counter.count(t));
  const second = texts.map((t) => counter.count(t));
  assert.deepEqual(second, first);
  assert.deepEqual(first, texts.map((t) => new TokenCounter().count(t)));
});

import assert from "node:assert/strict";
import { TextSlab } from "../../src/core/text_slab.ts";

Deno.test("TextSlab's chunks hold their own text however many follow, in any script", () => {
  const slab = new TextSlab(256);
  const decoder = new TextDecoder();
  const texts = Array.from(
    { length: 200 },
    (_, i) => ["plain ascii ", "café ", "😀 emoji ", "中文 ", ""][i % 5]!.repeat(i % 4),
  );
  const chunks = texts.map((text) => slab.encode(text));
  assert.deepEqual(chunks.map((chunk) => decoder.decode(chunk)), texts);
  // Small chunks share buffers, never bytes.
  const shared = chunks.filter((chunk, i) => i > 0 && chunk.buffer === chunks[i - 1]!.buffer);
  assert.ok(shared.length > 100, `${shared.length} chunks shared a buffer with the one before`);
});

Deno.test("TextSlab gives a text over half its buffer a buffer of its own", () => {
  const slab = new TextSlab(256);
  const small = slab.encode("small");
  const long = slab.encode("x".repeat(200));
  assert.notEqual(long.buffer, small.buffer);
  assert.equal(long.byteLength, 200);
  assert.equal(long.buffer.byteLength, 200);
  assert.equal(new TextDecoder().decode(small), "small");
});

Deno.test("TextSlab starts a new buffer when a text does not fit in what is left", () => {
  const slab = new TextSlab(256);
  const first = slab.encode("a".repeat(100));
  const second = slab.encode("b".repeat(100));
  const third = slab.encode("c".repeat(100)); // 56 bytes left: a new buffer
  assert.equal(second.buffer, first.buffer);
  assert.notEqual(third.buffer, first.buffer);
  assert.deepEqual(
    [first, second, third].map((chunk) => new TextDecoder().decode(chunk)),
    ["a".repeat(100), "b".repeat(100), "c".repeat(100)],
  );
});

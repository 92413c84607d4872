import assert from "node:assert/strict";
import { TextParts } from "../../src/core/text_parts.ts";

Deno.test("TextParts gives back exactly the text pushed, across its joins", () => {
  for (const count of [0, 1, 255, 256, 257, 1000]) {
    const parts = new TextParts();
    const pieces = Array.from({ length: count }, (_, i) => `${i}é😀,`);
    for (const piece of pieces) parts.push(piece);
    assert.equal(parts.join(), pieces.join(""), `${count} pieces`);
    assert.equal(parts.length, pieces.join("").length);
  }
});

import assert from "node:assert/strict";
import { randomHex } from "../../src/core/ids.ts";

Deno.test("randomHex gives the asked number of random bytes as lower-case hex", () => {
  const ids = new Set(Array.from({ length: 100 }, () => randomHex(16)));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(randomHex(12).length, 24);
  assert.equal(randomHex(0), "");
});

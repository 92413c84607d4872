import assert from "node:assert/strict";
import { TruncationStore, truncationTextKey } from "../../src/core/truncation.ts";

const INFO = { name: "Write", reason: "unterminated string", sizeBytes: 4096 };

Deno.test("TruncationStore returns a remembered tool truncation once, then forgets it", () => {
  const store = new TruncationStore();
  store.rememberTool("tooluse_1", INFO);
  assert.deepEqual(store.takeTool("tooluse_1"), INFO);
  assert.equal(store.takeTool("tooluse_1"), undefined);
  assert.equal(store.takeTool("unknown"), undefined);
});

Deno.test("TruncationStore keeps several tool ids independent", () => {
  const store = new TruncationStore();
  store.rememberTool("a", INFO);
  store.rememberTool("b", { ...INFO, name: "Edit" });
  assert.equal(store.takeTool("b")?.name, "Edit");
  assert.equal(store.takeTool("a")?.name, "Write");
  assert.deepEqual(store.stats(), { texts: 0, tools: 0 });
});

Deno.test("TruncationStore recognizes a remembered text once", () => {
  const store = new TruncationStore();
  store.rememberText("A long answer that was cut");
  assert.equal(store.takeText("A different answer"), false);
  assert.equal(store.takeText("A long answer that was cut"), true);
  assert.equal(store.takeText("A long answer that was cut"), false);
});

Deno.test("TruncationStore keys texts by their first 500 characters only", () => {
  const store = new TruncationStore();
  const head = "x".repeat(500);
  store.rememberText(`${head} first ending`);
  assert.equal(store.takeText(`${head} another ending`), true);
  assert.equal(truncationTextKey("abc").length, 16);
  assert.match(truncationTextKey("abc"), /^[0-9a-f]{16}$/);
  assert.notEqual(truncationTextKey(`y${head}`), truncationTextKey(head));
});

Deno.test("TruncationStore evicts the oldest entry when full", () => {
  const store = new TruncationStore({ maxEntries: 2 });
  store.rememberTool("first", INFO);
  store.rememberTool("second", INFO);
  store.rememberTool("third", INFO);
  assert.equal(store.takeTool("first"), undefined);
  assert.ok(store.takeTool("second"));
  assert.ok(store.takeTool("third"));
  store.rememberText("one");
  store.rememberText("two");
  store.rememberText("one"); // refreshed: now the newest
  store.rememberText("three");
  assert.equal(store.takeText("two"), false);
  assert.equal(store.takeText("one"), true);
  assert.equal(store.takeText("three"), true);
});

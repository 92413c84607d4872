import assert from "node:assert/strict";
import { aliasToolName, isKiroName, ToolNameMap } from "../../src/kiro/tool_names.ts";

const LONG_MCP = `mcp__some_server__${"a".repeat(70)}`;

Deno.test("ToolNameMap keeps names Kiro accepts", () => {
  const map = new ToolNameMap();
  for (const name of ["bash", "get_weather", "A-b_9", "x".repeat(64)]) {
    assert.equal(map.toKiro(name), name);
    assert.equal(map.fromKiro(name), name);
  }
  assert.equal(map.hasAliases, false);
});

Deno.test("ToolNameMap aliases names Kiro rejects and maps them back", async (t) => {
  const cases: [string, string][] = [
    ["a long MCP name", LONG_MCP],
    ["65 characters", "y".repeat(65)],
    ["a name with dots", "files.read"],
    ["a name with spaces", "run shell command"],
    ["a non-ASCII name", "größe"],
    ["an empty name", ""],
  ];
  for (const [label, name] of cases) {
    await t.step(label, () => {
      const map = new ToolNameMap();
      const sent = map.toKiro(name);
      assert.ok(isKiroName(sent), `"${sent}" is not a Kiro name`);
      assert.ok(sent.length <= 64);
      assert.equal(map.fromKiro(sent), name);
      assert.equal(map.toKiro(name), sent, "the same name maps the same way twice");
      assert.equal(new ToolNameMap().toKiro(name), sent, "aliases are deterministic");
    });
  }
});

Deno.test("aliases keep the start and the end of a long name readable", () => {
  const alias = aliasToolName(`mcp__server__${"m".repeat(60)}__delete_issue`);
  assert.equal(alias.length, 64);
  assert.ok(alias.startsWith("mcp__server__"));
  assert.match(alias, /delete_issue_[0-9a-f]{8}$/);
  assert.equal(aliasToolName("files.read").replace(/_[0-9a-f]{8}$/, ""), "files_read");
});

Deno.test("ToolNameMap never gives two names the same Kiro name", () => {
  const map = new ToolNameMap();
  const dotted = map.toKiro("files.read");
  const native = map.toKiro(dotted); // a client tool literally named like the alias
  assert.notEqual(native, dotted);
  assert.equal(map.fromKiro(dotted), "files.read");
  assert.equal(map.fromKiro(native), dotted);
  const a = map.toKiro(`${"p".repeat(70)}_one`);
  const b = map.toKiro(`${"p".repeat(70)}_two`);
  assert.notEqual(a, b);
});

Deno.test("ToolNameMap maps tool-use ids Kiro rejects", () => {
  const map = new ToolNameMap();
  assert.equal(map.toKiroId("tooluse_AbC-09"), "tooluse_AbC-09");
  const cursorId = `call_${"z".repeat(80)}\nmore`;
  const sent = map.toKiroId(cursorId);
  assert.match(sent, /^tooluse_[0-9a-f]{32}$/);
  assert.equal(map.toKiroId(cursorId), sent);
  assert.equal(new ToolNameMap().toKiroId(cursorId), sent);
  assert.equal(map.fromKiroId(sent), cursorId);
  assert.equal(map.fromKiroId("tooluse_from_kiro"), "tooluse_from_kiro");
});

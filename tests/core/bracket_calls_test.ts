import assert from "node:assert/strict";
import { findBracketCalls, matchingBrace } from "../../src/core/bracket_calls.ts";

Deno.test("matchingBrace finds the closing brace and ignores braces in strings", async (t) => {
  const cases: [string, number][] = [
    ['{"key": "value"}', 15],
    ['{"outer": {"inner": "value"}}', 28],
    ['{"text": "Hello {world}"}', 24],
    ['{"text": "Say \\"hello\\""}', 24],
    ['{"key": "value"', -1],
  ];
  for (const [text, end] of cases) {
    await t.step(text, () => assert.equal(matchingBrace(text, 0), end));
  }
});

Deno.test("tool calls written as text are found with their arguments", async (t) => {
  await t.step("one call", () => {
    assert.deepEqual(
      findBracketCalls('Sure. [Called get_weather with args: {"location": "Oslo"}] Done.'),
      [{ name: "get_weather", arguments: '{"location": "Oslo"}' }],
    );
  });
  await t.step("two calls, nested arguments, any case", () => {
    const text = '[called a with args: {"x": {"y": [1, "}"]}}]\n[CALLED b WITH ARGS: {}]';
    assert.deepEqual(findBracketCalls(text), [
      { name: "a", arguments: '{"x": {"y": [1, "}"]}}' },
      { name: "b", arguments: "{}" },
    ]);
  });
  await t.step("no calls in plain text, unterminated or non-object arguments", () => {
    assert.deepEqual(findBracketCalls("nothing here"), []);
    assert.deepEqual(findBracketCalls("[Called x with args: {"), []);
    assert.deepEqual(findBracketCalls("[Called x with args: [1, 2]]"), []);
    assert.deepEqual(findBracketCalls("[Called x with args: {not json}]"), []);
  });
});

/** Golden-file assertions: compare text with `tests/golden/<name>`, or rewrite it on request. */
import assert from "node:assert/strict";

/** The folder golden files live in. */
export const GOLDEN_DIR = "tests/golden";

/**
 * Asserts that `actual` equals the golden file `name` (relative to tests/golden). With
 * `UPDATE_GOLDEN=1` the file is rewritten instead (run with --allow-write=tests/golden).
 */
export async function assertGolden(actual: string, name: string): Promise<void> {
  const path = `${GOLDEN_DIR}/${name}`;
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      assert.fail(`Golden file "${path}" is missing: run the test with UPDATE_GOLDEN=1`);
    }
    throw err;
  }
  assert.equal(actual, expected, `output differs from "${path}" (UPDATE_GOLDEN=1 rewrites it)`);
}

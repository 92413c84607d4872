import assert from "node:assert/strict";
import { join } from "node:path";
import { CredentialWriter, writeJsonCredentials } from "../../src/auth/write_back.ts";
import { silentLogger } from "../../src/log.ts";
import { tempDir } from "../helpers.ts";
import { arnIn, captureLogger, createCliDatabase, readAuthKv } from "./fake_auth.ts";

const IDE_FILE = {
  accessToken: "old-access",
  refreshToken: "old-refresh",
  expiresAt: "2026-05-18T12:00:00.000Z",
  profileArn: arnIn("us-east-1"),
  authMethod: "social",
  provider: "Google",
  nested: { keep: [1, 2, 3] },
};
const UPDATE = {
  accessToken: "new-access",
  refreshToken: "new-refresh",
  expiresAtMs: Date.parse("2026-05-18T13:33:56.000Z"),
  region: "us-east-1",
};

async function writeFile(path: string, value: unknown, mode = 0o600): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(value, null, 2) + "\n");
  await Deno.chmod(path, mode);
}

Deno.test("writeJsonCredentials keeps unknown fields, the expiry style, indentation and mode", async (t) => {
  await using dir = await tempDir();
  const cases: [string, string, string][] = [
    ["IDE milliseconds", "2026-05-18T12:00:00.000Z", "2026-05-18T13:33:56.000Z"],
    ["Python offset", "2026-05-18T12:00:00+00:00", "2026-05-18T13:33:56+00:00"],
  ];
  for (const [name, oldExpiry, newExpiry] of cases) {
    await t.step(name, async () => {
      const path = join(dir.path, "kiro-auth-token.json");
      await writeFile(path, { ...IDE_FILE, expiresAt: oldExpiry }, 0o640);
      await writeJsonCredentials(path, UPDATE, { logger: silentLogger() });
      const text = await Deno.readTextFile(path);
      const expected = {
        ...IDE_FILE,
        accessToken: "new-access",
        refreshToken: "new-refresh",
        expiresAt: newExpiry,
      };
      assert.equal(text, JSON.stringify(expected, null, 2) + "\n");
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
    });
  }
});

Deno.test("writeJsonCredentials replaces the file by rename and leaves no temporary file", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "kiro-auth-token.json");
  await writeFile(path, { ...IDE_FILE, padding: "x".repeat(200_000) });
  // Holding the original open keeps its inode from being reused by the new file.
  using original = await Deno.open(path);
  const before = await original.stat();
  await writeJsonCredentials(path, UPDATE, { logger: silentLogger() });
  assert.notEqual((await Deno.stat(path)).ino, before.ino);
  assert.equal((await original.stat()).nlink, 0); // the old file was unlinked by the rename
  // A reader racing the writes must always see one whole JSON document.
  let stop = false;
  const reader = (async () => {
    let reads = 0;
    while (!stop) {
      JSON.parse(await Deno.readTextFile(path));
      reads++;
    }
    return reads;
  })();
  for (let i = 0; i < 20; i++) {
    await writeJsonCredentials(path, { ...UPDATE, accessToken: `access-${i}` }, {
      logger: silentLogger(),
    });
  }
  stop = true;
  assert.ok((await reader) > 0);
  assert.equal(JSON.parse(await Deno.readTextFile(path)).accessToken, "access-19");
  const names = (await Array.fromAsync(Deno.readDir(dir.path))).map((e) => e.name);
  assert.deepEqual(names, ["kiro-auth-token.json"]);
});

Deno.test("a read-only JSON file turns write-back off with one log line", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "kiro-auth-token.json");
  await writeFile(path, IDE_FILE, 0o444);
  const { logger, lines } = captureLogger();
  const writer = new CredentialWriter({ kind: "json_file", path }, logger);
  await writer.write(UPDATE);
  await writer.write(UPDATE);
  assert.equal(JSON.parse(await Deno.readTextFile(path)).accessToken, "old-access");
  assert.equal(lines.length, 1);
  assert.match(
    lines[0] ?? "",
    /WARN\s+Cannot write refreshed tokens back \(the file is read-only\)/,
  );
});

Deno.test("database write-back updates the loaded row and is skipped once when read-only", async (t) => {
  await using dir = await tempDir();
  const row = {
    access_token: "old",
    refresh_token: "old-r",
    expires_at: "2026-05-18T12:00:00Z",
    provider: "Github",
  };
  await t.step("it merges into the row", async () => {
    const path = join(dir.path, "rw.sqlite3");
    createCliDatabase(path, { "kirocli:social:token": row });
    const { logger, lines } = captureLogger();
    await new CredentialWriter({ kind: "kiro_cli_db", path, readonly: false }, logger)
      .write({ ...UPDATE, tokenKey: "kirocli:social:token", profileArn: arnIn("us-east-1") });
    assert.deepEqual(readAuthKv(path, "kirocli:social:token"), {
      ...row,
      access_token: "new-access",
      refresh_token: "new-refresh",
      expires_at: "2026-05-18T13:33:56Z",
      region: "us-east-1",
      profile_arn: arnIn("us-east-1"),
    });
    assert.ok(!lines.some((line) => line.includes("WARN")));
  });
  const readOnly: [string, boolean, number, RegExp][] = [
    ["SQLITE_READONLY is set", true, 0o644, /SQLITE_READONLY is set/],
    [
      "the database file is read-only",
      false,
      0o444,
      /Cannot write refreshed tokens back \(the file is read-only\)/,
    ],
  ];
  for (const [name, readonly, mode, message] of readOnly) {
    await t.step(name, async () => {
      const path = join(dir.path, `${mode}.sqlite3`);
      createCliDatabase(path, { "kirocli:social:token": row });
      await Deno.chmod(path, mode);
      const { logger, lines } = captureLogger();
      const writer = new CredentialWriter({ kind: "kiro_cli_db", path, readonly }, logger);
      await writer.write({ ...UPDATE, tokenKey: "kirocli:social:token" });
      await writer.write({ ...UPDATE, tokenKey: "kirocli:social:token" });
      assert.deepEqual(readAuthKv(path, "kirocli:social:token"), row);
      assert.equal(lines.length, 1);
      assert.match(lines[0] ?? "", message);
    });
  }
});

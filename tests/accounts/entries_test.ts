import assert from "node:assert/strict";
import { join } from "node:path";
import { loadAccountEntries } from "../../src/accounts/entries.ts";
import { CredentialsError } from "../../src/auth/credentials.ts";
import { defaultConfig } from "../../src/config.ts";
import { deniedPathLines, gatewayPaths } from "../../src/permissions.ts";
import { formatFinding, runDoctor } from "../../src/doctor.ts";
import { createCliDatabase } from "../auth/fake_auth.ts";
import { tempDir } from "../helpers.ts";
import { startFakePool, startPoolGateway } from "./fake_pool.ts";

async function write(path: string, value: unknown): Promise<string> {
  await Deno.writeTextFile(path, typeof value === "string" ? value : JSON.stringify(value));
  return path;
}

Deno.test("the three entry types, options, and a folder of credential files", async () => {
  await using tmp = await tempDir();
  const json = await write(join(tmp.path, "one.json"), { refreshToken: "r1" });
  const db = join(tmp.path, "cli.sqlite3");
  createCliDatabase(db, { "kirocli:social:token": { refresh_token: "r2" } });
  const folder = join(tmp.path, "many");
  await Deno.mkdir(folder);
  await write(join(folder, "x.json"), { refreshToken: "rx" });
  await write(join(folder, "y.json"), { clientId: "c", clientSecret: "s", refreshToken: "ry" });
  await write(join(folder, "not-credentials.json"), { hello: 1 });
  await write(join(folder, "notes.txt"), "ignored");
  const file = await write(join(tmp.path, "accounts.json"), [
    {
      type: "json",
      path: json,
      name: "one",
      profile_arn: "arn:aws:codewhisperer:us-east-1:1:profile/P",
    },
    { type: "sqlite", path: db, region: "eu-west-1", api_region: "us-east-1" },
    { type: "refresh_token", refresh_token: "r3", enabled: false },
    { type: "json", path: folder, name: "team" },
  ]);
  const entries = await loadAccountEntries(file);
  assert.deepEqual(entries.map((e) => [e.name, e.kind, e.enabled]), [
    ["one", "json", true],
    [entries[1]!.id, "sqlite", true],
    [entries[2]!.id, "refresh_token", false],
    ["team.x.json", "json", true],
    ["team.y.json", "json", true],
  ]);
  assert.equal(entries[0]!.profileArn, "arn:aws:codewhisperer:us-east-1:1:profile/P");
  assert.equal(entries[1]!.region, "eu-west-1");
  assert.equal(entries[1]!.apiRegion, "us-east-1");
  assert.match(entries[1]!.id, /^file-[0-9a-f]{12}$/);
  assert.match(entries[2]!.id, /^rt-[0-9a-f]{12}$/);
  assert.ok(!entries[2]!.id.includes("r3"));
});

Deno.test("a bad accounts file stops start-up with one line naming the entry", async (t) => {
  await using tmp = await tempDir();
  const good = await write(join(tmp.path, "good.json"), { refreshToken: "r" });
  const cases: [string, unknown, RegExp][] = [
    ["not JSON", "{", /not valid JSON/],
    ["not an array", { type: "json" }, /expected a JSON array/],
    ["empty", [], /no entries/],
    ["an unknown type", [{ type: "ftp", path: good }], /entry 1: "type" must be one of/],
    ["a missing path", [{ type: "json", name: "x" }], /entry 1 \("x"\): "path" is required/],
    [
      "a missing file",
      [{ type: "json", path: join(tmp.path, "nope.json") }],
      /entry 1: ".*nope.json" not found/,
    ],
    ["a missing token", [{ type: "refresh_token" }], /"refresh_token" is required/],
    [
      "a bad region",
      [{ type: "json", path: good, region: "mars" }],
      /"region" must be an AWS region/,
    ],
    [
      "a bad ARN",
      [{ type: "json", path: good, profile_arn: "arn:x" }],
      /"profile_arn" must look like/,
    ],
    ["an unknown field", [{ type: "json", path: good, pth: "x" }], /unknown field "pth"/],
    [
      "not credentials",
      [{ type: "sqlite", path: good }],
      /is not an SQLite database|not a kiro-cli database/,
    ],
    [
      "the same account twice",
      [{ type: "json", path: good }, { type: "json", path: good }],
      /same account/,
    ],
    ["nothing enabled", [{ type: "json", path: good, enabled: false }], /no entry is enabled/],
  ];
  for (const [name, content, expected] of cases) {
    await t.step(name, async () => {
      const file = await write(join(tmp.path, "accounts.json"), content);
      const err = await loadAccountEntries(file).catch((e) => e);
      assert.ok(err instanceof CredentialsError, String(err));
      assert.equal(err.lines.length, 1);
      assert.match(err.lines[0]!, /^Cannot use KIRO_ACCOUNTS_FILE ".*accounts.json": /);
      assert.match(err.lines[0]!, expected);
    });
  }
});

Deno.test("each entry type serves chats through its own login and profile ARN", async () => {
  await using tmp = await tempDir();
  await using pool = await startFakePool(["j", "s", "t"]);
  const json = await write(join(tmp.path, "j.json"), { refreshToken: "refresh-j" });
  const db = join(tmp.path, "s.sqlite3");
  createCliDatabase(db, { "kirocli:social:token": { refresh_token: "refresh-s" } });
  await using gateway = await startPoolGateway(pool, {
    accounts: [
      { type: "json", path: json, name: "j" },
      { type: "sqlite", path: db, name: "s" },
      { type: "refresh_token", refresh_token: "refresh-t", name: "t" },
    ],
    dir: tmp.path,
    config: { accountStrategy: "balanced" },
  });
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) seen.add((await gateway.chat(`chat ${i}`)).text!);
  assert.deepEqual([...seen].sort(), ["Hello from j", "Hello from s", "Hello from t"]);
  for (const name of ["j", "s", "t"]) {
    const account = pool.account(name);
    const sent = account.calls[0]!.body as { profileArn?: string };
    assert.equal(sent.profileArn, account.profileArn, `${name} used its own profile ARN`);
  }
  const written = JSON.parse(await Deno.readTextFile(json));
  assert.equal(written.accessToken, "access-j-1", "the json account's token went back to its file");
});

Deno.test("a bad entry in the accounts file stops the gateway with one line", async () => {
  await using tmp = await tempDir();
  await using pool = await startFakePool(["a"]);
  const broken = await write(join(tmp.path, "broken.json"), { refreshToken: "" });
  const err = await startPoolGateway(pool, {
    accounts: [{ type: "refresh_token", refresh_token: "refresh-a", name: "a" }, {
      type: "json",
      path: broken,
      name: "b",
    }],
    dir: tmp.path,
  }).catch((e) => e);
  assert.ok(err instanceof CredentialsError, String(err));
  assert.equal(err.lines.length, 1);
  assert.match(err.lines[0]!, /entry 2 \("b"\)/);
});

Deno.test("KIRO_ACCOUNTS_FILE outside the allowed paths is refused before start-up", () => {
  const config = defaultConfig({ accountsFile: "/secure/accounts.json" });
  const paths = gatewayPaths(config, { platform: "linux" });
  assert.ok(paths.some((p) => p.purpose === "KIRO_ACCOUNTS_FILE" && p.access === "read"));
  const lines = deniedPathLines(paths, {
    query: (_name, path) => path === "/secure/accounts.json" ? "denied" : "granted",
  });
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /KIRO_ACCOUNTS_FILE "\/secure\/accounts.json".*--allow-read=\/secure\/accounts.json/,
  );
});

Deno.test("doctor checks each account of KIRO_ACCOUNTS_FILE", async () => {
  await using tmp = await tempDir();
  const json = await write(join(tmp.path, "one.json"), {
    refreshToken: "r1",
    accessToken: "a1",
    expiresAt: "2099-01-01T00:00:00.000Z",
  });
  const file = await write(join(tmp.path, "accounts.json"), [
    { type: "json", path: json, name: "one" },
    { type: "refresh_token", refresh_token: "r2", name: "two" },
    { type: "refresh_token", refresh_token: "r3", name: "off", enabled: false },
  ]);
  const config = defaultConfig({
    accountsFile: file,
    stateDir: join(tmp.path, "state"),
    upstream: { api: "http://127.0.0.1:9", management: "http://127.0.0.1:9" },
  });
  const findings = await runDoctor(config, { platform: "linux", now: () => 0 });
  const lines = findings.map(formatFinding).join("\n");
  assert.match(
    lines,
    /ok +KIRO_ACCOUNTS_FILE: 3 accounts, 2 enabled \(one, two\); strategy sticky/,
  );
  assert.match(lines, /account "one" ".*one.json": .*refreshable/);
  assert.match(lines, /account "two": refresh token set/);
  assert.ok(!/\b(r1|a1|r2)\b/.test(lines), "no token printed");
  await write(file, [{ type: "json", path: join(tmp.path, "missing.json"), name: "gone" }]);
  const broken = (await runDoctor(config, { platform: "linux", now: () => 0 }))
    .filter((f) => f.level === "fail").map(formatFinding);
  assert.match(broken[0]!, /FAIL Cannot use KIRO_ACCOUNTS_FILE .*entry 1 \("gone"\)/);
});

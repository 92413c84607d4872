import assert from "node:assert/strict";
import { join } from "node:path";
import { CredentialsError } from "../../src/auth/credentials.ts";
import { readCliDatabase, writeCliDatabaseToken } from "../../src/auth/sqlite.ts";
import { tempDir } from "../helpers.ts";
import { arnIn, createCliDatabase, readAuthKv } from "./fake_auth.ts";

const SOCIAL = {
  access_token: "social-access",
  refresh_token: "social-refresh",
  expires_at: "2026-05-18T12:34:56.123456789Z",
  profile_arn: arnIn("us-east-1"),
  region: "us-east-1",
};
const ODIC = {
  access_token: "odic-access",
  refresh_token: "odic-refresh",
  expires_at: "2026-05-18T12:34:56.123456789Z",
  region: "eu-west-1",
  scopes: ["codewhisperer:completions"],
  startUrl: "https://example.awsapps.com/start",
};
const REGISTRATION = {
  client_id: "client-id",
  client_secret: "client-secret",
  region: "ap-southeast-1",
};

Deno.test("readCliDatabase takes the first token row by priority and remembers its key", async (t) => {
  await using dir = await tempDir();
  const cases: [string, Record<string, unknown>, string, string][] = [
    [
      "social wins over odic",
      { "kirocli:social:token": SOCIAL, "kirocli:odic:token": ODIC },
      "kirocli:social:token",
      "social-access",
    ],
    [
      "kiro-cli odic wins over legacy",
      { "codewhisperer:odic:token": SOCIAL, "kirocli:odic:token": ODIC },
      "kirocli:odic:token",
      "odic-access",
    ],
    [
      "legacy Amazon Q row",
      { "codewhisperer:odic:token": ODIC },
      "codewhisperer:odic:token",
      "odic-access",
    ],
    [
      "a row with invalid JSON is skipped",
      { "kirocli:social:token": "{not json", "kirocli:odic:token": ODIC },
      "kirocli:odic:token",
      "odic-access",
    ],
  ];
  for (const [i, [name, rows, key, access]] of cases.entries()) {
    await t.step(name, () => {
      const path = join(dir.path, `db${i}.sqlite3`);
      createCliDatabase(path, rows);
      const login = readCliDatabase(path, "KIRO_CLI_DB_FILE");
      assert.equal(login.tokenKey, key);
      assert.equal(login.snapshot.accessToken, access);
    });
  }
});

Deno.test("readCliDatabase reads tokens, nanosecond expiry, registration and selected profile", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "data.sqlite3");
  createCliDatabase(
    path,
    { "kirocli:odic:token": ODIC, "kirocli:odic:device-registration": REGISTRATION },
    { "api.codewhisperer.profile": { arn: arnIn("us-east-1"), profileName: "x" } },
  );
  const login = readCliDatabase(path, "KIRO_CLI_DB_FILE");
  assert.deepEqual(login.snapshot, {
    accessToken: "odic-access",
    refreshToken: "odic-refresh",
    expiresAtMs: Date.parse("2026-05-18T12:34:56.123Z"),
    profileArn: undefined,
    region: "eu-west-1", // the token row's region wins over the registration's
    clientId: "client-id",
    clientSecret: "client-secret",
  });
  assert.equal(login.stateProfileArn, arnIn("us-east-1"));
});

Deno.test("the registration region is the SSO region only when the token row has none", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "data.sqlite3");
  const { region: _, ...noRegion } = ODIC;
  createCliDatabase(path, {
    "kirocli:odic:token": noRegion,
    "codewhisperer:odic:device-registration": REGISTRATION,
  });
  assert.equal(readCliDatabase(path, "x").snapshot.region, "ap-southeast-1");
});

Deno.test("readCliDatabase explains a database it cannot use", async (t) => {
  await using dir = await tempDir();
  const cases: [string, (path: string) => void | Promise<void>, RegExp][] = [
    [
      "no login row",
      (p) => createCliDatabase(p, { other: {} }),
      /no kiro-cli login found \(keys tried: kirocli:social:token/,
    ],
    [
      "only an external IdP login",
      (p) => createCliDatabase(p, { "kirocli:external-idp:token": SOCIAL }),
      /external identity provider logins are not supported yet/,
    ],
    [
      "not a database",
      (p) => Deno.writeTextFile(p, "hello, this is not sqlite at all, just text"),
      /not a kiro-cli database/,
    ],
    ["missing file", () => {}, /file not found/],
  ];
  for (const [i, [name, setup, message]] of cases.entries()) {
    await t.step(name, async () => {
      const path = join(dir.path, `bad${i}.sqlite3`);
      await setup(path);
      const err = (() => {
        try {
          readCliDatabase(path, "KIRO_CLI_DB_FILE");
        } catch (e) {
          return e;
        }
      })();
      assert.ok(err instanceof CredentialsError);
      assert.match(err.lines[0] ?? "", message);
    });
  }
});

Deno.test("writeCliDatabaseToken merges into the loaded row and keeps unknown keys and formats", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "data.sqlite3");
  createCliDatabase(path, { "kirocli:odic:token": ODIC, "kirocli:social:token": SOCIAL });
  const key = writeCliDatabaseToken(path, {
    tokenKey: "kirocli:odic:token",
    accessToken: "new-access",
    refreshToken: "new-refresh",
    expiresAtMs: Date.parse("2026-05-18T13:00:00.000Z"),
    region: "eu-west-1",
  });
  assert.equal(key, "kirocli:odic:token");
  assert.deepEqual(readAuthKv(path, "kirocli:odic:token"), {
    ...ODIC,
    access_token: "new-access",
    refresh_token: "new-refresh",
    expires_at: "2026-05-18T13:00:00.000000000Z",
  });
  assert.deepEqual(readAuthKv(path, "kirocli:social:token"), SOCIAL);
});

Deno.test("writeCliDatabaseToken falls back to another token row and never inserts one", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "data.sqlite3");
  createCliDatabase(path, { "codewhisperer:odic:token": ODIC });
  const update = { accessToken: "a", expiresAtMs: 0, region: "eu-west-1" };
  assert.equal(
    writeCliDatabaseToken(path, { ...update, tokenKey: "kirocli:social:token" }),
    "codewhisperer:odic:token",
  );
  assert.equal(readAuthKv(path, "codewhisperer:odic:token")?.refresh_token, "odic-refresh");
  assert.equal(readAuthKv(path, "kirocli:social:token"), undefined);

  const empty = join(dir.path, "empty.sqlite3");
  createCliDatabase(empty, {});
  assert.equal(
    writeCliDatabaseToken(empty, { ...update, tokenKey: "kirocli:social:token" }),
    undefined,
  );
  assert.equal(readAuthKv(empty, "kirocli:social:token"), undefined);
});

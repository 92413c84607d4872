import assert from "node:assert/strict";
import { join } from "node:path";
import { CredentialsError } from "../../src/auth/credentials.ts";
import { CREDENTIAL_CANDIDATES, readJsonCredentials } from "../../src/auth/sources.ts";
import { createTokenSource } from "../../src/auth/token_source.ts";
import { defaultConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { tempDir } from "../helpers.ts";
import { captureLogger, createCliDatabase } from "./fake_auth.ts";

const IDE = {
  accessToken: "ide-access",
  refreshToken: "ide-refresh",
  expiresAt: "2099-01-01T00:00:00.000Z",
};
const CLI_ROW = {
  access_token: "cli-access",
  refresh_token: "cli-refresh",
  expires_at: "2099-01-01T00:00:00Z",
};

async function writeJson(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(value, null, 2));
}

Deno.test("CREDENTIAL_CANDIDATES lists the IDE file, then the databases for the platform", () => {
  assert.deepEqual(CREDENTIAL_CANDIDATES("/h", "linux"), [
    { path: "/h/.aws/sso/cache/kiro-auth-token.json", source: "json_file" },
    { path: "/h/.local/share/kiro-cli/data.sqlite3", source: "kiro_cli_db" },
    { path: "/h/.local/share/amazon-q/data.sqlite3", source: "kiro_cli_db" },
  ]);
  assert.deepEqual(CREDENTIAL_CANDIDATES("/h", "darwin").map((c) => c.path), [
    "/h/.aws/sso/cache/kiro-auth-token.json",
    "/h/Library/Application Support/kiro-cli/data.sqlite3",
    "/h/Library/Application Support/amazon-q/data.sqlite3",
    "/h/.local/share/kiro-cli/data.sqlite3",
    "/h/.local/share/amazon-q/data.sqlite3",
  ]);
});

Deno.test("an enterprise IDE file takes its client registration from clientIdHash", async (t) => {
  await using home = await tempDir();
  const cache = join(home.path, ".aws", "sso", "cache");
  const token = join(cache, "kiro-auth-token.json");
  await writeJson(token, {
    ...IDE,
    clientIdHash: "abc123",
    authMethod: "IdC",
    provider: "Enterprise",
  });
  await t.step("a missing registration is tolerated and refreshes as desktop", async () => {
    const snapshot = await readJsonCredentials(token, {
      homeDir: home.path,
      label: "x",
      logger: silentLogger(),
    });
    assert.equal(snapshot.clientId, undefined);
  });
  await t.step("an incomplete registration is tolerated", async () => {
    await writeJson(join(cache, "abc123.json"), { clientId: "only-id" });
    const snapshot = await readJsonCredentials(token, {
      homeDir: home.path,
      label: "x",
      logger: silentLogger(),
    });
    assert.equal(snapshot.clientSecret, undefined);
  });
  await t.step("a full registration turns the login into AWS SSO OIDC", async () => {
    await writeJson(join(cache, "abc123.json"), {
      clientId: "cid",
      clientSecret: "csecret",
      region: "eu-west-1",
    });
    const snapshot = await readJsonCredentials(token, {
      homeDir: home.path,
      label: "x",
      logger: silentLogger(),
    });
    assert.equal(snapshot.clientId, "cid");
    assert.equal(snapshot.clientSecret, "csecret");
    assert.equal(snapshot.region, "eu-west-1");
    const source = await createTokenSource(defaultConfig({ credsFile: token }), {
      logger: silentLogger(),
      homeDir: home.path,
    });
    assert.equal(source.status().authType, "aws_sso_oidc");
    assert.equal(source.status().ssoRegion, "eu-west-1");
  });
});

Deno.test("configured sources are used in the order database, JSON file, REFRESH_TOKEN", async (t) => {
  await using dir = await tempDir();
  const db = join(dir.path, "data.sqlite3");
  createCliDatabase(db, { "kirocli:social:token": CLI_ROW });
  const json = join(dir.path, "token.json");
  await writeJson(json, IDE);
  const cases: [string, Parameters<typeof defaultConfig>[0], string][] = [
    ["all three", { cliDbFile: db, credsFile: json, refreshToken: "env-r" }, "kiro_cli_db"],
    ["file and env", { credsFile: json, refreshToken: "env-r" }, "json_file"],
    ["env only", { refreshToken: "env-r" }, "env_refresh_token"],
  ];
  for (const [name, config, expected] of cases) {
    await t.step(name, async () => {
      const source = await createTokenSource(defaultConfig(config), {
        logger: silentLogger(),
        homeDir: dir.path,
      });
      assert.equal(source.status().source, expected);
    });
  }
  await t.step("~ in a configured path is the home folder", async () => {
    const source = await createTokenSource(defaultConfig({ credsFile: "~/token.json" }), {
      logger: silentLogger(),
      homeDir: dir.path,
    });
    assert.equal(source.status().path, json);
  });
});

Deno.test("a configured path that does not exist is an error naming the variable", async (t) => {
  await using dir = await tempDir();
  const missing = join(dir.path, "nope");
  for (
    const [field, variable] of [["cliDbFile", "KIRO_CLI_DB_FILE"], [
      "credsFile",
      "KIRO_CREDS_FILE",
    ]] as const
  ) {
    await t.step(variable, async () => {
      const err = await createTokenSource(defaultConfig({ [field]: missing, refreshToken: "r" }), {
        logger: silentLogger(),
        homeDir: dir.path,
      }).catch((e) => e);
      assert.ok(err instanceof CredentialsError);
      assert.equal(err.lines[0], `Cannot read ${variable} "${missing}": file not found`);
    });
  }
});

Deno.test("with nothing configured the standard locations in HOME are searched", async (t) => {
  await using home = await tempDir();
  const cliDb = join(home.path, ".local", "share", "kiro-cli", "data.sqlite3");
  const amazonQ = join(home.path, ".local", "share", "amazon-q", "data.sqlite3");
  const ide = join(home.path, ".aws", "sso", "cache", "kiro-auth-token.json");
  await t.step("nothing found lists every path tried and the three options", async () => {
    const err = await createTokenSource(defaultConfig(), {
      logger: silentLogger(),
      homeDir: home.path,
      platform: "linux",
    })
      .catch((e) => e);
    assert.ok(err instanceof CredentialsError);
    assert.deepEqual(err.lines.slice(0, 4), [
      "No Kiro credentials found. Looked in:",
      `  ${ide}: not found`,
      `  ${cliDb}: not found`,
      `  ${amazonQ}: not found`,
    ]);
    const text = err.lines.join("\n");
    for (const option of ["KIRO_CREDS_FILE=", "KIRO_CLI_DB_FILE=", "REFRESH_TOKEN="]) {
      assert.match(text, new RegExp(option));
    }
    assert.match(text, /kiro-cli login/);
  });
  await t.step("a database without a login is skipped for the next location", async () => {
    await Deno.mkdir(join(cliDb, ".."), { recursive: true });
    createCliDatabase(cliDb, {});
    await Deno.mkdir(join(amazonQ, ".."), { recursive: true });
    createCliDatabase(amazonQ, { "codewhisperer:odic:token": CLI_ROW });
    const { logger, lines } = captureLogger();
    const source = await createTokenSource(defaultConfig(), {
      logger,
      homeDir: home.path,
      platform: "linux",
    });
    assert.equal(source.status().path, amazonQ);
    assert.ok(lines.some((line) => line.includes("INFO") && line.includes(amazonQ)));
  });
  await t.step("the Kiro IDE file comes first", async () => {
    await writeJson(ide, IDE);
    const source = await createTokenSource(defaultConfig(), {
      logger: silentLogger(),
      homeDir: home.path,
      platform: "linux",
    });
    assert.deepEqual([source.status().source, source.status().path], ["json_file", ide]);
  });
});

Deno.test("a JSON file with neither token is refused with advice", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "empty.json");
  await writeJson(path, { region: "us-east-1" });
  const err = await createTokenSource(defaultConfig({ credsFile: path }), {
    logger: silentLogger(),
    homeDir: dir.path,
  })
    .catch((e) => e);
  assert.ok(err instanceof CredentialsError);
  assert.match(err.lines[0] ?? "", /has neither accessToken nor refreshToken/);
});

import assert from "node:assert/strict";
import { type CliCommand, ConfigError, type EnvVar, loadConfig, parseCli } from "../src/config.ts";

const SERVE: CliCommand = { command: "serve", demo: false };

function load(
  env: Partial<Record<EnvVar, string>>,
  options: { cli?: CliCommand; dotenv?: string } = {},
) {
  return loadConfig(options.cli ?? SERVE, {
    getEnv: (name) => env[name],
    readTextFile: (
      path,
    ) => (path === (options.cli?.envFile ?? ".env") ? options.dotenv : undefined),
    generateKey: () => "generated-key",
  });
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("defaults are safe: loopback, port 8000, a generated key", () => {
  const config = load({});
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 8000);
  assert.equal(config.proxyApiKey, "generated-key");
  assert.equal(config.proxyApiKeyGenerated, true);
  assert.equal(config.region, "us-east-1");
  assert.equal(config.firstTokenTimeoutMs, 15_000);
  assert.equal(config.firstTokenMaxRetries, 3);
  assert.equal(config.streamingReadTimeoutMs, 300_000);
  assert.equal(config.fakeReasoning, true);
  assert.equal(config.fakeReasoningHandling, "as_reasoning_content");
  assert.equal(config.maxPayloadBytes, 600_000);
  assert.equal(config.debugMode, "off");
  assert.equal(config.debugKeep, 20);
  assert.equal(config.imageUrlFetch, "public");
  assert.ok(Object.isFrozen(config));
});

Deno.test("every variable is parsed into its typed field", () => {
  const config = load({
    SERVER_HOST: "0.0.0.0",
    SERVER_PORT: "9000",
    PROXY_API_KEY: "secret",
    REFRESH_TOKEN: "rt",
    KIRO_CREDS_FILE: "/c.json",
    KIRO_CLI_DB_FILE: "/d.sqlite3",
    SQLITE_READONLY: "yes",
    PROFILE_ARN: "arn:aws:codewhisperer:us-east-1:1:profile/X",
    KIRO_REGION: "eu-west-1",
    KIRO_API_REGION: "eu-central-1",
    KIRO_API_URL: "http://127.0.0.1:1/",
    KIRO_MANAGEMENT_URL: "http://127.0.0.1:2",
    KIRO_AUTH_URL: "http://127.0.0.1:3",
    KIRO_OIDC_URL: "http://127.0.0.1:4",
    KIRO_Q_URL: "http://127.0.0.1:5/",
    VPN_PROXY_URL: "proxy.local:3128",
    TOOL_DESCRIPTION_MAX_LENGTH: "0",
    TRUNCATION_RECOVERY: "false",
    LOG_LEVEL: "WARNING",
    LOG_FORMAT: "json",
    FIRST_TOKEN_TIMEOUT: "0.5",
    FIRST_TOKEN_MAX_RETRIES: "5",
    STREAMING_READ_TIMEOUT: "60",
    DEBUG_MODE: "errors",
    DEBUG_DIR: "dbg",
    DEBUG_KEEP: "3",
    FAKE_REASONING: "off",
    FAKE_REASONING_MAX_TOKENS: "2000",
    FAKE_REASONING_BUDGET_CAP: "0",
    FAKE_REASONING_HANDLING: "strip_tags",
    FAKE_REASONING_INITIAL_BUFFER_SIZE: "30",
    KIRO_MAX_PAYLOAD_BYTES: "500000",
    AUTO_TRIM_PAYLOAD: "1",
    IMAGE_URL_FETCH: "All",
    STATE_DIR: "st",
    KIRO_ACCOUNTS_FILE: "accounts.json",
    ACCOUNT_STRATEGY: "Balanced",
    ACCOUNT_COOLDOWN_SECONDS: "30",
    JOURNAL_SIZE: "50",
    SHUTDOWN_GRACE_SECONDS: "30",
    RESPONSES_STORE_MAX_ENTRIES: "20",
    RESPONSES_STORE_MAX_AGE: "90",
    STATE_URL: "rediss://:pw@redis.internal:6380/2",
    STATE_SECRET: "a-long-shared-secret",
    WEB_SEARCH: "Auto",
  });
  assert.deepEqual(
    { ...config, upstream: { ...config.upstream } },
    {
      host: "0.0.0.0",
      port: 9000,
      proxyApiKey: "secret",
      proxyApiKeyGenerated: false,
      refreshToken: "rt",
      credsFile: "/c.json",
      cliDbFile: "/d.sqlite3",
      sqliteReadonly: true,
      profileArn: "arn:aws:codewhisperer:us-east-1:1:profile/X",
      region: "eu-west-1",
      apiRegion: "eu-central-1",
      upstream: {
        api: "http://127.0.0.1:1",
        management: "http://127.0.0.1:2",
        auth: "http://127.0.0.1:3",
        oidc: "http://127.0.0.1:4",
        q: "http://127.0.0.1:5",
      },
      proxyUrl: "http://proxy.local:3128",
      toolDescriptionMaxLength: 0,
      truncationRecovery: false,
      logLevel: "warn",
      logFormat: "json",
      firstTokenTimeoutMs: 500,
      firstTokenMaxRetries: 5,
      streamingReadTimeoutMs: 60_000,
      debugMode: "errors",
      debugDir: "dbg",
      debugKeep: 3,
      fakeReasoning: false,
      fakeReasoningMaxTokens: 2000,
      fakeReasoningBudgetCap: 0,
      fakeReasoningHandling: "strip_tags",
      fakeReasoningInitialBufferSize: 30,
      maxPayloadBytes: 500_000,
      autoTrimPayload: true,
      imageUrlFetch: "all",
      journalSize: 50,
      shutdownGraceMs: 30_000,
      responsesStoreMaxEntries: 20,
      responsesStoreMaxAgeMs: 90_000,
      stateDir: "st",
      accountsFile: "accounts.json",
      accountStrategy: "balanced",
      accountCooldownMs: 30_000,
      stateUrl: "rediss://:pw@redis.internal:6380/2",
      stateSecret: "a-long-shared-secret",
      webSearch: "auto",
      demo: false,
      envFile: ".env",
    },
  );
});

Deno.test("precedence is flag over environment over .env over default", async (t) => {
  const dotenv = "SERVER_PORT=7001\nSERVER_HOST=10.0.0.1\nLOG_LEVEL=debug\n";
  await t.step(".env beats the default", () => {
    assert.equal(load({}, { dotenv }).port, 7001);
    assert.equal(load({}, { dotenv }).logLevel, "debug");
  });
  await t.step("the environment beats .env", () => {
    assert.equal(load({ SERVER_PORT: "7002" }, { dotenv }).port, 7002);
  });
  await t.step("a flag beats the environment", () => {
    const cli = parseCli(["--port", "7003", "-H", "::1"]);
    const config = load({ SERVER_PORT: "7002", SERVER_HOST: "1.2.3.4" }, { cli, dotenv });
    assert.equal(config.port, 7003);
    assert.equal(config.host, "::1");
  });
  await t.step("an empty variable counts as unset", () => {
    assert.equal(load({ SERVER_PORT: " " }, { dotenv }).port, 7001);
  });
});

Deno.test("--env-file reads the named file and fails clearly when it is missing", () => {
  const cli = parseCli(["--env-file", "custom.env"]);
  assert.equal(load({}, { cli, dotenv: "SERVER_PORT=7100" }).port, 7100);
  assert.deepEqual(problemsOf(() => load({}, { cli })), [
    'Cannot read --env-file "custom.env": file not found',
  ]);
});

Deno.test("each bad value gives one line naming the variable and the problem", async (t) => {
  const cases: [Partial<Record<EnvVar, string>>, string][] = [
    [{ SERVER_PORT: "abc" }, 'Invalid SERVER_PORT: expected a port from 0 to 65535, got "abc"'],
    [{ SERVER_PORT: "70000" }, 'Invalid SERVER_PORT: expected a port from 0 to 65535, got "70000"'],
    [{ FIRST_TOKEN_TIMEOUT: "soon" }, "Invalid FIRST_TOKEN_TIMEOUT: expected a number of seconds"],
    [{ SQLITE_READONLY: "maybe" }, 'Invalid SQLITE_READONLY: expected true or false, got "maybe"'],
    [{ KIRO_REGION: "moon" }, "Invalid KIRO_REGION: expected an AWS region"],
    [{ KIRO_API_URL: "ftp://x" }, 'Invalid KIRO_API_URL: expected an http(s) URL, got "ftp://x"'],
    [{ LOG_LEVEL: "loud" }, "Invalid LOG_LEVEL: expected one of trace, debug, info, warn, error"],
    [{ DEBUG_MODE: "some" }, "Invalid DEBUG_MODE: expected one of off, errors, all"],
    [{ FAKE_REASONING_HANDLING: "x" }, "Invalid FAKE_REASONING_HANDLING: expected one of"],
    [{ FIRST_TOKEN_MAX_RETRIES: "0" }, "Invalid FIRST_TOKEN_MAX_RETRIES: expected a whole number"],
    [{ IMAGE_URL_FETCH: "lan" }, "Invalid IMAGE_URL_FETCH: expected one of public, all, off"],
  ];
  for (const [env, expected] of cases) {
    await t.step(Object.keys(env)[0]!, () => {
      const problems = problemsOf(() => load(env));
      assert.equal(problems.length, 1);
      assert.ok(problems[0]!.startsWith(expected), problems[0]);
    });
  }
  await t.step("several bad values give several lines", () => {
    assert.equal(problemsOf(() => load({ SERVER_PORT: "x", DEBUG_MODE: "y" })).length, 2);
  });
  await t.step("a bad flag names the flag", () => {
    const cli = parseCli(["--port", "nope"]);
    assert.match(problemsOf(() => load({}, { cli }))[0]!, /^Invalid --port: /);
  });
});

Deno.test("STATE_URL needs a Redis URL and a long STATE_SECRET, in one line each", async (t) => {
  const cases: [string, Partial<Record<EnvVar, string>>, RegExp][] = [
    [
      "a secret is required",
      { STATE_URL: "redis://127.0.0.1:6379/0" },
      /^Invalid STATE_SECRET: required when STATE_URL is set/,
    ],
    [
      "a short secret is refused",
      { STATE_URL: "redis://h:1", STATE_SECRET: "short" },
      /^Invalid STATE_SECRET: expected at least 16 characters, got 5$/,
    ],
    ["only redis and rediss URLs", {
      STATE_URL: "http://:hunter2@h:1",
      STATE_SECRET: "x".repeat(16),
    }, /^Invalid STATE_URL: expected redis:\/\/host:port\/db/],
  ];
  for (const [name, env, expected] of cases) {
    await t.step(name, () => {
      const problems = problemsOf(() => load(env));
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, expected);
      assert.doesNotMatch(problems[0]!, /hunter2/);
    });
  }
  await t.step("without STATE_URL no secret is needed", () => {
    assert.equal(load({}).stateUrl, undefined);
  });
});

Deno.test("the command line knows its commands and rejects unknown flags", async (t) => {
  await t.step("--version and --help", () => {
    assert.equal(parseCli(["-v"]).command, "version");
    assert.equal(parseCli(["--help"]).command, "help");
  });
  await t.step("doctor and --demo", () => {
    assert.equal(parseCli(["doctor"]).command, "doctor");
    assert.equal(parseCli(["--demo"]).demo, true);
  });
  await t.step("unknown flags and commands", () => {
    assert.match(problemsOf(() => parseCli(["--nope"]))[0]!, /^Invalid command line: /);
    assert.match(problemsOf(() => parseCli(["launch"]))[0]!, /unknown command "launch"/);
  });
});

Deno.test("SHUTDOWN_GRACE_SECONDS defaults to 10 seconds and is read in seconds", () => {
  assert.equal(load({}).shutdownGraceMs, 10_000);
  assert.equal(load({ SHUTDOWN_GRACE_SECONDS: "2.5" }).shutdownGraceMs, 2_500);
  assert.equal(load({ SHUTDOWN_GRACE_SECONDS: "0" }).shutdownGraceMs, 0);
  assert.match(problemsOf(() => load({ SHUTDOWN_GRACE_SECONDS: "soon" }))[0]!, /SHUTDOWN_GRACE/);
});

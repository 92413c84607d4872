/**
 * Start-up: configuration, credentials, the Deno.serve listener and graceful shutdown. This is
 * the one module that exits the process.
 */
import { createTokenSource, CredentialsError } from "./auth/token_source.ts";
import {
  type CliCommand,
  type Config,
  ConfigError,
  ENV_VARS,
  HELP_TEXT,
  loadConfig,
  parseCli,
  VERSION,
} from "./config.ts";
import { TokenCounter } from "./core/tokens.ts";
import { TruncationStore } from "./core/truncation.ts";
import { KiroBackend } from "./kiro/backend.ts";
import { KiroClient } from "./kiro/client.ts";
import { machineFingerprint } from "./kiro/endpoints.ts";
import { ModelCatalog } from "./kiro/models.ts";
import { Logger } from "./log.ts";
import { createHandler } from "./server.ts";

/** How long shutdown waits for open requests before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

/** Exit code for bad configuration or missing credentials. */
const EXIT_CONFIG = 2;

/** Turns a permission error into one line that names the flag to add. */
export function permissionHint(err: unknown): string | undefined {
  if (!(err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied)) {
    return undefined;
  }
  const match = err.message.match(/Requires (\w+) access to "?([^",]+)"?/);
  if (!match) return `Permission denied: ${err.message}`;
  const [, kind, target] = match;
  const flag = kind === "read" || kind === "write" || kind === "net" || kind === "env"
    ? `--allow-${kind}=${target}`
    : `--allow-${kind}`;
  return `Permission denied: the gateway may not ${kind} "${target}": add ${flag} to the command (or its task in deno.json)`;
}

function readTextFileIfExists(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

function fail(lines: string[]): never {
  for (const line of lines) console.error(line);
  Deno.exit(EXIT_CONFIG);
}

async function serve(cli: CliCommand, config: Readonly<Config>): Promise<void> {
  const logger = new Logger({ level: config.logLevel, format: config.logFormat });
  const tokens = await createTokenSource(config, { logger });
  const fingerprint = machineFingerprint();
  const client = new KiroClient({ config, tokens, logger, fingerprint });
  const models = new ModelCatalog({ config, logger, fetchAccess: () => tokens.getAccess() });
  const backend = new KiroBackend({
    config,
    client,
    models,
    counter: new TokenCounter(),
    truncation: new TruncationStore(),
    logger,
  });
  const startedAt = Date.now();
  const handler = createHandler({
    config,
    logger,
    backend,
    now: () => Date.now(),
    randomHex: (bytes) => toHex(crypto.getRandomValues(new Uint8Array(bytes))),
    startedAt,
    credentials: { status: () => ({ ...tokens.status() }) },
  });
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen({ hostname, port }) {
      const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
      logger.info(`Kiro Gateway ${VERSION} listening on http://${shown}:${port}`);
      if (config.proxyApiKeyGenerated) {
        logger.warn(
          `No PROXY_API_KEY set: clients must use this key for this run: ${config.proxyApiKey}` +
            " (set PROXY_API_KEY in .env to keep one)",
        );
      }
    },
  }, handler);
  void cli;
  const shutdown = () => {
    logger.info("Shutting down");
    const timer = setTimeout(() => Deno.exit(0), SHUTDOWN_GRACE_MS);
    server.shutdown().finally(() => {
      clearTimeout(timer);
      client.close();
    });
  };
  Deno.addSignalListener("SIGINT", shutdown);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", shutdown);
  await server.finished;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function main(args: string[]): Promise<void> {
  let cli: CliCommand;
  let config: Readonly<Config>;
  try {
    cli = parseCli(args);
    if (cli.command === "help") return console.log(HELP_TEXT);
    if (cli.command === "version") return console.log(`kiro-gateway ${VERSION}`);
    config = loadConfig(cli, {
      getEnv: (name) => Deno.env.get(name),
      readTextFile: readTextFileIfExists,
    });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.problems);
    const hint = permissionHint(err);
    if (hint) fail([hint]);
    throw err;
  }
  try {
    await serve(cli, config);
  } catch (err) {
    if (err instanceof CredentialsError) fail(err.lines);
    const hint = permissionHint(err);
    if (hint) fail([hint]);
    if (err instanceof Deno.errors.AddrInUse) {
      fail([`Cannot listen on ${config.host}:${config.port}: the port is in use; pick another with --port`]);
    }
    throw err;
  }
}

void ENV_VARS;
if (import.meta.main) await main(Deno.args);

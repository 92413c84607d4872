/**
 * Start-up: configuration, credentials, the Deno.serve listener and graceful shutdown. This is
 * the one module that exits the process.
 */
import { createGateway } from "./app.ts";
import { CredentialsError } from "./auth/token_source.ts";
import {
  type CliCommand,
  type Config,
  ConfigError,
  HELP_TEXT,
  loadConfig,
  parseCli,
  VERSION,
} from "./config.ts";
import { DebugRecorder } from "./debug_capture.ts";
import { demoConfig, type DemoUpstream, startDemoUpstream } from "./demo.ts";
import { formatFinding, runDoctor } from "./doctor.ts";
import {
  deniedPathLines,
  describePermissions,
  EXTRA_FLAGS_VAR,
  gatewayPaths,
} from "./permissions.ts";
import { Logger } from "./log.ts";

/**
 * How long replies ended at the end of the grace period get to deliver their in-band error
 * before the process exits anyway, in milliseconds.
 */
const FINAL_FLUSH_MS = 2_000;

/** What shutDownGracefully needs besides the server. */
export interface GracefulShutdownOptions {
  /** SHUTDOWN_GRACE_SECONDS, in milliseconds. */
  graceMs: number;
  /** Aborted when the grace period ends: the signal handed to the server as `deps.shutdown`. */
  grace: AbortController;
  logger: Logger;
  /** Ends the process when the replies do not end even after their in-band error. */
  exit: () => void;
  finalFlushMs?: number;
}

/**
 * Stops the server the gentle way: no new connections from now on, open replies run until
 * `graceMs` has passed, then `grace` is aborted so each ends with an in-band error in its
 * dialect; `exit` runs only if some are still open `finalFlushMs` later. Resolves when the
 * server has finished.
 */
export async function shutDownGracefully(
  server: Pick<Deno.HttpServer, "shutdown">,
  options: GracefulShutdownOptions,
): Promise<void> {
  const { graceMs, grace, logger } = options;
  logger.info("Shutting down", { graceSeconds: graceMs / 1000 });
  let exitTimer: ReturnType<typeof setTimeout> | undefined;
  const graceTimer = setTimeout(() => {
    logger.warn("Shutdown grace period over: ending the replies still open");
    grace.abort();
    exitTimer = setTimeout(options.exit, options.finalFlushMs ?? FINAL_FLUSH_MS);
  }, graceMs);
  try {
    await server.shutdown();
  } finally {
    clearTimeout(graceTimer);
    clearTimeout(exitTimer);
  }
}

/** Exit code for bad configuration or missing credentials. */
const EXIT_CONFIG = 2;

/** Turns a permission error into one line that names the flag to add, or undefined. */
export function permissionHint(
  err: unknown,
  standalone = Deno.build.standalone,
): string | undefined {
  if (!(err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied)) {
    return undefined;
  }
  const match = err.message.match(/Requires (\w+) access to "?([^",]+)"?/);
  if (!match) return `Permission denied: ${err.message}`;
  const [, kind, target] = match;
  const flag = kind === "read" || kind === "write" || kind === "net" || kind === "env" ||
      kind === "sys"
    ? `--allow-${kind}=${target}`
    : `--allow-${kind}`;
  const how = standalone
    ? "the prebuilt binary's permissions are fixed: run from source with that flag"
    : `for example ${EXTRA_FLAGS_VAR}="${flag}" deno task start`;
  return `Permission denied: the gateway may not ${kind} "${target}": add ${flag} (${how})`;
}

function homeDir(): string | undefined {
  try {
    return Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  } catch {
    return undefined;
  }
}

function readTextFileIfExists(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/** Writes plain lines for the user (help, doctor, start-up failures), outside the logger. */
function printLines(lines: string[], out: { writeSync(p: Uint8Array): number }): void {
  const bytes = new TextEncoder().encode(lines.map((line) => `${line}\n`).join(""));
  for (let at = 0; at < bytes.byteLength;) at += out.writeSync(bytes.subarray(at));
}

function fail(lines: string[]): never {
  printLines(lines, Deno.stderr);
  Deno.exit(EXIT_CONFIG);
}

async function serve(loaded: Readonly<Config>): Promise<void> {
  const logger = new Logger({ level: loaded.logLevel, format: loaded.logFormat });
  const paths = gatewayPaths(loaded, { homeDir: homeDir(), platform: Deno.build.os });
  logger.info(describePermissions(paths));
  let demo: DemoUpstream | undefined;
  let config = loaded;
  if (loaded.demo) {
    demo = startDemoUpstream({ logger });
    config = demoConfig(loaded, demo.url);
    logger.warn("Demo mode: replies are scripted by a built-in upstream, not Kiro (--demo)");
  }
  const grace = new AbortController();
  const gateway = await createGateway(config, {
    logger,
    homeDir: homeDir(),
    deps: {
      shutdown: grace.signal,
      debug: new DebugRecorder({
        mode: config.debugMode,
        dir: config.debugDir,
        keep: config.debugKeep,
        logger,
        now: () => Date.now(),
        secrets: () => [config.proxyApiKey, config.refreshToken],
      }),
    },
  });
  // Listen for signals before serving: a SIGTERM right after the listening line must not
  // meet the default action and kill the process halfway through its start-up lines.
  const stop = new AbortController();
  // A second signal during the grace period ends the open replies at once.
  const onSignal = () => stop.signal.aborted ? grace.abort() : stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSignal);
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
  }, gateway.handler);
  stop.signal.addEventListener("abort", () => {
    const exit = () => Deno.exit(0);
    shutDownGracefully(server, { graceMs: config.shutdownGraceMs, grace, logger, exit })
      .finally(() => {
        void gateway.close();
        void demo?.[Symbol.asyncDispose]();
      });
  }, { once: true });
  await server.finished;
}

async function main(args: string[]): Promise<void> {
  let cli: CliCommand;
  let config: Readonly<Config>;
  try {
    cli = parseCli(args);
    if (cli.command === "help") return printLines([HELP_TEXT], Deno.stdout);
    if (cli.command === "version") return printLines([`kiro-gateway ${VERSION}`], Deno.stdout);
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
  const denied = deniedPathLines(
    gatewayPaths(config, { homeDir: homeDir(), platform: Deno.build.os }),
  );
  if (denied.length > 0) fail(denied);
  if (cli.command === "doctor") return await doctor(config);
  try {
    await serve(config);
  } catch (err) {
    if (err instanceof CredentialsError) fail(err.lines);
    const hint = permissionHint(err);
    if (hint) fail([hint]);
    if (err instanceof Deno.errors.AddrInUse) {
      fail([
        `Cannot listen on ${config.host}:${config.port}: the port is in use; pick another with --port`,
      ]);
    }
    throw err;
  }
}

/** Prints the doctor's findings and exits 0 when none failed, 1 otherwise. */
async function doctor(config: Readonly<Config>): Promise<void> {
  const findings = await runDoctor(config, {
    homeDir: homeDir(),
    platform: Deno.build.os,
    now: () => Date.now(),
  });
  printLines(findings.map(formatFinding), Deno.stdout);
  Deno.exit(findings.some((f) => f.level === "fail") ? 1 : 0);
}

if (import.meta.main) await main(Deno.args);

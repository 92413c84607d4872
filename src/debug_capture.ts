/**
 * Debug capture (spec §9.7, DEBUG_MODE): the bodies, streams and log lines of one chat request
 * are buffered in memory (each file capped) and written, with secrets redacted, into their own
 * folder under DEBUG_DIR; only the newest DEBUG_KEEP folders are kept. `errors` writes only
 * requests that failed (status 400 or more, or an in-band stream error); `all` writes every one.
 */
import { join } from "node:path";
import type { DebugMode } from "./config.ts";
import { formatRecord, type Logger, redact, redactSecrets } from "./log.ts";
import { keepBodyLimits } from "./core/http_body.ts";

/** Routes whose requests are captured. */
export const CAPTURED_PATHS: ReadonlySet<string> = new Set([
  "/v1/chat/completions",
  "/v1/messages",
  "/v1/responses",
]);

/** Default cap of each buffered file, in bytes. */
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;

/** Permissions of capture folders (and DEBUG_DIR when the recorder creates it): owner only. */
export const CAPTURE_FOLDER_MODE = 0o700;

/** Permissions of capture files: owner read and write only. */
export const CAPTURE_FILE_MODE = 0o600;

/** Folder names the recorder writes and is allowed to prune: `<timestamp>_<requestId>`. */
const FOLDER_NAME = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z_[A-Za-z0-9_-]+$/;

/** Options of a DebugRecorder. */
export interface DebugRecorderOptions {
  mode: DebugMode;
  dir: string;
  /** How many request folders to keep. */
  keep: number;
  logger: Logger;
  /** The clock in epoch milliseconds. */
  now: () => number;
  /** Secret values to blank out wherever they appear (the gateway's API key, tokens). */
  secrets?: () => Array<string | undefined>;
  maxFileBytes?: number;
}

/** Starts captures for chat requests according to DEBUG_MODE; one per process. */
export class DebugRecorder {
  #options: DebugRecorderOptions;

  constructor(options: DebugRecorderOptions) {
    this.#options = options;
  }

  /** A capture for this request, or undefined when capture is off or the route is not captured. */
  begin(requestId: string, path: string): RequestCapture | undefined {
    if (this.#options.mode === "off" || !CAPTURED_PATHS.has(path)) return undefined;
    return new RequestCapture(requestId, this.#options);
  }
}

/** A size-capped byte buffer that remembers how much it dropped. */
class CappedBuffer {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #dropped = 0;
  #cap: number;

  constructor(cap: number) {
    this.#cap = cap;
  }

  get isEmpty(): boolean {
    return this.#size === 0 && this.#dropped === 0;
  }

  add(chunk: Uint8Array): void {
    const room = this.#cap - this.#size;
    if (room <= 0) {
      this.#dropped += chunk.byteLength;
      return;
    }
    const kept = chunk.byteLength > room ? chunk.slice(0, room) : chunk.slice();
    this.#chunks.push(kept);
    this.#size += kept.byteLength;
    this.#dropped += chunk.byteLength - kept.byteLength;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }

  text(): string {
    return new TextDecoder().decode(this.bytes()) + this.truncationNote();
  }

  truncationNote(): string {
    return this.#dropped > 0
      ? `\n[truncated: ${this.#dropped} more bytes were not captured]\n`
      : "";
  }
}

const encoder = new TextEncoder();

/** How a request ended, for the decision to write it. */
export interface CaptureOutcome {
  status: number;
  /** The message of an in-band stream error, if one was sent. */
  streamError?: string;
}

/** The capture of one request; the server and the Kiro backend feed it, finish() writes it. */
export class RequestCapture {
  readonly requestId: string;
  #options: DebugRecorderOptions;
  #startedAt: number;
  #request: CappedBuffer;
  #kiroRequest: CappedBuffer;
  #raw: CappedBuffer;
  #modified: CappedBuffer;
  #logs: CappedBuffer;
  #error: { status: number; message: string } | undefined;
  #stopListening: () => void;
  #finished = false;

  constructor(requestId: string, options: DebugRecorderOptions) {
    this.requestId = requestId;
    this.#options = options;
    this.#startedAt = options.now();
    const cap = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.#request = new CappedBuffer(cap);
    this.#kiroRequest = new CappedBuffer(cap);
    this.#raw = new CappedBuffer(cap);
    this.#modified = new CappedBuffer(cap);
    this.#logs = new CappedBuffer(cap);
    this.#stopListening = options.logger.listen((record) => {
      if (record.fields.requestId !== requestId) return;
      this.#logs.add(encoder.encode(formatRecord(record, "text") + "\n"));
    });
  }

  /**
   * Returns a request whose body is copied into `request_body.json` as the handler reads it,
   * so invalid requests are captured before validation.
   */
  tapRequest(req: Request): Request {
    if (!req.body) return req;
    const reader = req.body.getReader();
    const buffer = this.#request;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const result = await reader.read();
        if (result.done) return controller.close();
        buffer.add(result.value);
        controller.enqueue(result.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
    return keepBodyLimits(req, new Request(req, { body }));
  }

  /** Records the payload sent to Kiro (the last attempt wins). */
  recordKiroRequest(body: string): void {
    this.#kiroRequest = new CappedBuffer(this.#options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
    this.#kiroRequest.add(encoder.encode(body));
  }

  /** Records bytes as Kiro sent them. */
  recordUpstreamChunk(chunk: Uint8Array): void {
    this.#raw.add(chunk);
  }

  /** Records bytes as the client received them. */
  recordClientChunk(chunk: Uint8Array): void {
    this.#modified.add(chunk);
  }

  /** Records the error a failed request was answered with. */
  recordError(status: number, message: string): void {
    this.#error = { status, message };
  }

  /**
   * Writes the capture when the mode asks for it, then prunes old folders. Never throws: a
   * capture that cannot be written is logged and dropped. Later calls do nothing.
   */
  async finish(outcome: CaptureOutcome): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    this.#stopListening();
    const failed = outcome.status >= 400 || outcome.streamError !== undefined;
    if (this.#options.mode !== "all" && !failed) return;
    try {
      const folder = await this.#write(outcome, failed);
      await pruneFolders(this.#options.dir, this.#options.keep);
      this.#options.logger.debug("Wrote debug capture", { folder, requestId: this.requestId });
    } catch (err) {
      this.#options.logger.warn("Cannot write debug capture", {
        dir: this.#options.dir,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  async #write(outcome: CaptureOutcome, failed: boolean): Promise<string> {
    const stamp = new Date(this.#startedAt).toISOString().replace(/[:.]/g, "-");
    const folder = join(this.#options.dir, `${stamp}_${this.requestId}`);
    // Captures hold whole prompts and answers: readable by the gateway's user only.
    await Deno.mkdir(folder, { recursive: true, mode: CAPTURE_FOLDER_MODE });
    const secrets = (this.#options.secrets?.() ?? []).filter((s): s is string =>
      typeof s === "string" && s.length >= 8
    );
    const files: Array<[string, string | Uint8Array]> = [
      ["request_body.json", redactJsonText(this.#request, secrets)],
    ];
    if (!this.#kiroRequest.isEmpty) {
      files.push(["kiro_request_body.json", redactJsonText(this.#kiroRequest, secrets)]);
    }
    if (!this.#raw.isEmpty) {
      const note = encoder.encode(this.#raw.truncationNote());
      files.push(["response_stream_raw.txt", concat(this.#raw.bytes(), note)]);
    }
    if (!this.#modified.isEmpty) {
      files.push(["response_stream_modified.txt", scrubText(this.#modified.text(), secrets)]);
    }
    files.push(["app_logs.txt", scrubText(this.#logs.text(), secrets)]);
    if (failed) {
      const info = {
        status_code: this.#error?.status ?? outcome.status,
        error_message: this.#error?.message ?? outcome.streamError ?? null,
      };
      files.push(["error_info.json", scrubText(JSON.stringify(info, null, 2), secrets)]);
    }
    for (const [name, content] of files) {
      const path = join(folder, name);
      const options = { mode: CAPTURE_FILE_MODE };
      if (typeof content === "string") await Deno.writeTextFile(path, content, options);
      else await Deno.writeFile(path, content, options);
    }
    return folder;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/** Pretty-prints a captured JSON body with secret fields redacted; other text is scrubbed. */
function redactJsonText(buffer: CappedBuffer, secrets: string[]): string {
  const text = buffer.text();
  try {
    return scrubText(JSON.stringify(redactSecrets(JSON.parse(text)), null, 2), secrets);
  } catch {
    return scrubText(text, secrets);
  }
}

const BEARER = /\b(Bearer\s+)([A-Za-z0-9._~+/=-]{8,})/gi;
/** Kiro access and refresh tokens start with `aoa` and `aor`. */
const KIRO_TOKEN = /\bao[ar][A-Za-z0-9._~+/=-]{16,}/g;
const SECRET_FIELD =
  /("(?:[A-Za-z_-]*(?:token|secret|password|api[-_]?key|authorization|cookie)[A-Za-z_-]*)"\s*:\s*")((?:[^"\\]|\\.)*)"/gi;

const ALREADY_REDACTED = /^(?:\*{4}|.{4}…\(\d+ chars\)|\(none\))$/;

/**
 * Blanks out secrets in free text: the given values, `Bearer` credentials, Kiro tokens and
 * string fields of JSON whose names say they are secret.
 */
export function scrubText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join(redact(secret));
  out = out.replace(BEARER, (_m, prefix: string, value: string) => `${prefix}${redact(value)}`);
  out = out.replace(KIRO_TOKEN, (value) => redact(value));
  return out.replace(
    SECRET_FIELD,
    (_m, prefix: string, value: string) =>
      `${prefix}${value === "" || ALREADY_REDACTED.test(value) ? value : redact(value)}"`,
  );
}

/** Removes the oldest capture folders in `dir` so that at most `keep` remain. */
export async function pruneFolders(dir: string, keep: number): Promise<void> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory && FOLDER_NAME.test(entry.name)) names.push(entry.name);
  }
  names.sort();
  for (const name of names.slice(0, Math.max(0, names.length - keep))) {
    await Deno.remove(join(dir, name), { recursive: true }).catch(() => {});
  }
}

/**
 * Image references to ChatImages: `data:` URLs decoded in place, `http(s)` URLs fetched under
 * the IMAGE_URL_FETCH policy (Kiro takes bytes only). Errors carry the reason only; each dialect
 * wraps them with the URL and the field path its clients expect.
 */
import { Buffer } from "node:buffer";
import type { ImageUrlFetch } from "../config.ts";
import type { ChatImage } from "./chat.ts";
import { assertPublicHost, type HostResolver } from "./host_guard.ts";
import { readBodyCapped } from "./http_body.ts";

/** How long fetching one image URL may take, redirects included, in milliseconds. */
export const IMAGE_FETCH_TIMEOUT_MS = 10_000;

/** The largest image the gateway fetches from a URL, in bytes. */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/** How many redirects one image fetch follows. */
export const MAX_IMAGE_REDIRECTS = 3;

/** What fetchImage passes with each request: redirects come back to be checked. */
export interface ImageFetchInit {
  signal: AbortSignal;
  redirect: "manual";
}

/** Makes one HTTP request of an image fetch; `fetch` by default, injectable for tests. */
export type ImageFetcher = (url: string, init: ImageFetchInit) => Promise<Response>;

/** Options of fetchImage. */
export interface FetchImageOptions {
  /** Which hosts may be fetched: `public` (the default), `all` or `off`. */
  policy?: ImageUrlFetch;
  timeoutMs?: number;
  maxBytes?: number;
  fetch?: ImageFetcher;
  /** Resolves host names for the `public` check. */
  resolve?: HostResolver;
}

/** The image types Kiro accepts (spec §2.7); anything else comes back as Kiro's opaque 400. */
export const KIRO_IMAGE_TYPES: readonly string[] = [
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
];

/**
 * Checks a media type against KIRO_IMAGE_TYPES, reading `image/jpg` as `image/jpeg`, and
 * returns it lower-cased. Throws an Error naming the type otherwise. Every dialect's inline,
 * data: and fetched images pass here.
 */
export function toKiroImageType(mediaType: string): string {
  const type = mediaType.split(";")[0]!.trim().toLowerCase();
  const known = type === "image/jpg" ? "image/jpeg" : type;
  if (KIRO_IMAGE_TYPES.includes(known)) return known;
  if (!known.startsWith("image/")) throw new Error(`media type "${type}" is not an image`);
  throw new Error(
    `image type "${type}" is not one Kiro accepts: send PNG, JPEG, GIF or WebP`,
  );
}

/**
 * Checks base64 image data as Kiro will get it: whitespace (line breaks) removed, URL-safe
 * letters turned into the standard ones. Throws an Error when it is not base64; an empty
 * string stays empty.
 */
export function toKiroBase64(data: string): string {
  const compact = data.replace(/\s+/g, "").replace(/-/g, "+").replace(/_/g, "/");
  if (compact === "") return "";
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw new Error("the data is not valid base64");
  }
  return compact;
}

/**
 * An inline image as Kiro takes it: a type of KIRO_IMAGE_TYPES and base64 data; undefined
 * when the data is empty (such images are dropped, spec §2.7). Throws an Error naming the
 * problem otherwise.
 */
export function toKiroImage(mediaType: string, data: string): ChatImage | undefined {
  const type = toKiroImageType(mediaType);
  const base64 = toKiroBase64(data);
  return base64 === "" ? undefined : { mediaType: type, data: base64 };
}

/**
 * Decodes a `data:` URL (base64 or percent-encoded) into an image; returns undefined when it
 * holds no data. Throws an Error when the URL is malformed, its data is not base64 or its
 * media type is not one Kiro accepts.
 */
export function parseDataUrl(url: string): ChatImage | undefined {
  const comma = url.indexOf(",");
  if (!/^data:/i.test(url) || comma < 0) {
    throw new Error("a data URL needs a comma before its data");
  }
  const params = url.slice("data:".length, comma).split(";").map((p) => p.trim());
  const mediaType = toKiroImageType(params[0] || "image/jpeg");
  const payload = url.slice(comma + 1);
  const isBase64 = params.slice(1).some((p) => p.toLowerCase() === "base64");
  if (isBase64) return toKiroImage(mediaType, payload);
  let data: string;
  try {
    data = Buffer.from(decodeURIComponent(payload), "latin1").toString("base64");
  } catch {
    throw new Error("the data is not valid percent-encoding");
  }
  return toKiroImage(mediaType, data);
}

/**
 * Fetches an `http(s)` image under `options.policy`: the final answer must be 2xx with an
 * `image/*` content type and at most `maxBytes`, within `timeoutMs`; up to MAX_IMAGE_REDIRECTS
 * redirects are followed, each hop checked again. Rejects with an Error whose message is the
 * reason (the policy refusal says how to change IMAGE_URL_FETCH).
 */
export async function fetchImage(
  url: string,
  signal: AbortSignal,
  options: FetchImageOptions = {},
): Promise<ChatImage> {
  const policy = options.policy ?? "public";
  if (policy === "off") {
    throw new Error(
      "image URL fetching is off: send the image inline as base64, " +
        "or set IMAGE_URL_FETCH=public to enable it",
    );
  }
  const timeoutMs = options.timeoutMs ?? IMAGE_FETCH_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? MAX_IMAGE_BYTES;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const combined = AbortSignal.any([signal, timeout.signal]);
  try {
    const response = await fetchFollowingRedirects(toHttpUrl(url), combined, policy, options);
    const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim()
      .toLowerCase();
    if (!response.ok || !mediaType.startsWith("image/")) {
      await response.body?.cancel();
      throw new ImageRefusal(
        !response.ok
          ? `the server answered ${response.status}`
          : `content type "${mediaType || "(none)"}" is not an image`,
      );
    }
    let kiroType: string;
    try {
      kiroType = toKiroImageType(mediaType);
    } catch (err) {
      await response.body?.cancel();
      throw new ImageRefusal((err as Error).message);
    }
    const bytes = await readBodyCapped(response, maxBytes);
    if (bytes === undefined) throw new ImageRefusal(`the image is larger than ${maxBytes} bytes`);
    if (bytes.byteLength === 0) throw new ImageRefusal("the image is empty");
    return { mediaType: kiroType, data: Buffer.from(bytes).toString("base64") };
  } catch (err) {
    if (err instanceof ImageRefusal) throw err;
    if (timeout.signal.aborted) throw new Error(`no answer within ${timeoutMs} ms`, { cause: err });
    throw new Error(err instanceof Error ? err.message : String(err), { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** A reason fetchImage found itself, reported as is even if the timeout fired meanwhile. */
class ImageRefusal extends Error {}

async function fetchFollowingRedirects(
  first: URL,
  signal: AbortSignal,
  policy: Exclude<ImageUrlFetch, "off">,
  options: FetchImageOptions,
): Promise<Response> {
  let url = first;
  for (let redirects = 0;; redirects++) {
    if (policy === "public") await assertPublicHost(url, { signal, resolve: options.resolve });
    const response = await (options.fetch ?? fetch)(url.href, { signal, redirect: "manual" });
    const location = isRedirect(response.status) ? response.headers.get("location") : null;
    if (location === null) return response;
    await response.body?.cancel();
    if (redirects === MAX_IMAGE_REDIRECTS) {
      throw new ImageRefusal(`more than ${MAX_IMAGE_REDIRECTS} redirects`);
    }
    url = toHttpUrl(location, url);
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function toHttpUrl(text: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    throw new ImageRefusal(`"${text}" is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ImageRefusal("only http and https URLs are fetched");
  }
  return url;
}

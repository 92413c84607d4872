/**
 * Decides whether a URL's host is on the public internet, so that client-supplied URLs cannot
 * make the gateway reach loopback, private or link-local services (SSRF).
 *
 * The check resolves the name itself and `fetch` resolves it again, so a DNS server that
 * answers differently the second time can still slip through; the guard stops the plain cases
 * (literal addresses, local names, names that point inside) and every redirect hop is checked.
 */

/** Where an IP address points; everything but `public` is refused by the guard. */
export type AddressScope =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "link-local"
  | "carrier-grade NAT"
  | "multicast"
  | "reserved"
  | "invalid";

/** Resolves a host name to its IP addresses; injectable so tests never touch DNS. */
export type HostResolver = (hostname: string, signal: AbortSignal) => Promise<string[]>;

/** Options of assertPublicHost. */
export interface PublicHostOptions {
  /** Aborts the DNS lookups. */
  signal: AbortSignal;
  /** Resolves names (never IP literals); `resolveHostDns` by default. */
  resolve?: HostResolver;
}

const ALLOW_HINT = "set IMAGE_URL_FETCH=all to allow private hosts";

/**
 * Resolves when the URL's host is public. Rejects with an Error saying why otherwise: a local
 * name (`localhost`, `*.localhost`, `*.internal`), or any address that is not public.
 */
export async function assertPublicHost(url: URL, options: PublicHostOptions): Promise<void> {
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const refuse = (why: string) => new Error(`host "${host}" is not public: ${why}; ${ALLOW_HINT}`);
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".internal")) {
    throw refuse("it is a local name");
  }
  const literal = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIpLiteral(literal)) {
    const scope = addressScope(literal);
    if (scope !== "public") throw refuse(`it is ${article(scope)} ${scope} address`);
    return;
  }
  const addresses = await (options.resolve ?? resolveHostDns)(host, options.signal);
  if (addresses.length === 0) throw new Error(`host "${host}" has no address`);
  for (const address of addresses) {
    const scope = addressScope(address);
    if (scope !== "public") throw refuse(`it resolves to the ${scope} address "${address}"`);
  }
}

/**
 * Looks up a name's A and AAAA records with `Deno.resolveDns`. Rejects when neither lookup
 * returns an address.
 */
export async function resolveHostDns(hostname: string, signal: AbortSignal): Promise<string[]> {
  const lookups = await Promise.allSettled([
    Deno.resolveDns(hostname, "A", { signal }),
    Deno.resolveDns(hostname, "AAAA", { signal }),
  ]);
  const addresses = lookups.flatMap((lookup) => lookup.status === "fulfilled" ? lookup.value : []);
  if (addresses.length > 0) return addresses;
  const failure = lookups.find((lookup) => lookup.status === "rejected");
  const reason = failure?.status === "rejected" ? `: ${messageOf(failure.reason)}` : "";
  throw new Error(`cannot resolve host "${hostname}"${reason}`, { cause: failure });
}

/** Classifies an IPv4 or IPv6 address given as text; unparsable text is `invalid`. */
export function addressScope(address: string): AddressScope {
  const v4 = parseIpv4(address);
  if (v4) return ipv4Scope(v4);
  const v6 = parseIpv6(address);
  return v6 ? ipv6Scope(v6) : "invalid";
}

function isIpLiteral(text: string): boolean {
  return parseIpv4(text) !== undefined || parseIpv6(text) !== undefined;
}

function ipv4Scope([a, b]: number[]): AddressScope {
  if (a === undefined || b === undefined) return "invalid";
  if (a === 0) return "unspecified";
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 169 && b === 254) return "link-local";
  if (a === 100 && b >= 64 && b <= 127) return "carrier-grade NAT";
  if (a >= 224 && a <= 239) return "multicast";
  if (a >= 240) return "reserved";
  return "public";
}

function ipv6Scope(groups: number[]): AddressScope {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = groups;
  const embedded = [g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff];
  const high80Zero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (high80Zero && g5 === 0) {
    if (g6 === 0 && g7 === 0) return "unspecified";
    if (g6 === 0 && g7 === 1) return "loopback";
    return ipv4Scope(embedded); // IPv4-compatible ::a.b.c.d
  }
  if (high80Zero && g5 === 0xffff) return ipv4Scope(embedded); // IPv4-mapped
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return ipv4Scope(embedded); // NAT64
  }
  if (g0 === 0x2002) return ipv4Scope([g1 >> 8, g1 & 0xff, g2 >> 8, g2 & 0xff]); // 6to4
  if ((g0 & 0xfe00) === 0xfc00) return "private";
  if ((g0 & 0xffc0) === 0xfe80) return "link-local";
  if ((g0 & 0xffc0) === 0xfec0) return "private"; // deprecated site-local
  if ((g0 & 0xff00) === 0xff00) return "multicast";
  return "public";
}

function parseIpv4(text: string): number[] | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) return undefined;
  const octets = text.split(".").map(Number);
  return octets.every((octet) => octet <= 255) ? octets : undefined;
}

/** Parses IPv6 text into its eight 16-bit groups (zone ids and a trailing IPv4 allowed). */
function parseIpv6(text: string): number[] | undefined {
  let rest = text.replace(/%.*$/, "");
  const dotted = rest.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const v4 = parseIpv4(dotted[2] ?? "");
    if (!v4) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    rest = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = rest.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string) =>
    part === ""
      ? []
      : part.split(":").map((g) => /^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN);
  const head = groupsOf(halves[0] ?? "");
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? "") : [];
  if ([...head, ...tail].some(Number.isNaN)) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function article(scope: AddressScope): string {
  return /^[aeiu]/.test(scope) ? "an" : "a";
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

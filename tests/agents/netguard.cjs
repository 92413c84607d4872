// The agent tests' network guard: preloaded into every Node process (NODE_OPTIONS=--require)
// and Bun process that honours BUN_OPTIONS=--preload (Claude Code's binary does) the rig
// starts. Any connection or name lookup for a host that is not loopback (127.0.0.0/8, ::1,
// localhost) is refused before a socket is opened, and recorded as one JSON line in the file
// KIRO_NETGUARD_LOG names; the rig fails the test naming those hosts. Unix sockets pass.
// Plain CommonJS without dependencies: it runs before the agent's own code.
"use strict";

const fs = require("node:fs");
const net = require("node:net");
const dns = require("node:dns");

const logFile = process.env.KIRO_NETGUARD_LOG;
if (logFile) {
  // Says the guard is in this process, so a runtime that stops reading the preload is noticed.
  const runtime = typeof Bun === "undefined" ? "node" : "bun";
  fs.appendFileSync(`${logFile}.loaded`, JSON.stringify({ pid: process.pid, runtime }) + "\n");
}

function isLoopback(host) {
  if (typeof host !== "string" || host === "") return true; // no host: the default, localhost
  const name = host.replace(/^\[|\]$/g, "").replace(/\.$/, "").toLowerCase();
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (name === "::1" || name === "0:0:0:0:0:0:0:1") return true;
  const v4 = name.startsWith("::ffff:") ? name.slice(7) : name;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function refuse(via, host, port) {
  const target = port === undefined || port === null || port === ""
    ? String(host)
    : `${host}:${port}`;
  if (logFile) {
    fs.appendFileSync(
      logFile,
      JSON.stringify({ pid: process.pid, argv: process.argv.slice(1, 3), via, target }) + "\n",
    );
  }
  const err = new Error(
    `netguard: ${via} to ${target} refused (the agent tests allow loopback only)`,
  );
  err.code = "ECONNREFUSED";
  err.netguard = true;
  return err;
}

// net.Socket.prototype.connect is where net.connect, tls.connect, http(s) and undici (Node's
// fetch) all end up; it takes (options[, listener]), (port[, host][, listener]) or (path).
const originalConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connect(...args) {
  let options = args[0];
  if (Array.isArray(options)) options = options[0]; // the internal normalized form
  let host;
  let port;
  let path;
  if (options !== null && typeof options === "object") {
    host = options.host;
    port = options.port;
    path = options.path;
  } else if (typeof options === "string" && !/^\d+$/.test(options)) {
    path = options;
  } else {
    port = options;
    host = typeof args[1] === "string" ? args[1] : undefined;
  }
  if (!path && !isLoopback(host)) { // net opens a Unix socket for a non-empty path only
    const err = refuse("net.connect", host, port);
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return originalConnect.apply(this, args);
};

// Name lookups: a lookup of an outside name already tells a resolver where the agent wants
// to go, so it is refused too.
const originalLookup = dns.lookup;
dns.lookup = function lookup(hostname, ...rest) {
  if (!isLoopback(hostname)) {
    const callback = rest.find((arg) => typeof arg === "function");
    const err = refuse("dns.lookup", hostname);
    if (callback) process.nextTick(() => callback(err));
    return {};
  }
  return originalLookup.call(this, hostname, ...rest);
};
const originalPromisesLookup = dns.promises.lookup;
dns.promises.lookup = function lookup(hostname, ...rest) {
  if (!isLoopback(hostname)) return Promise.reject(refuse("dns.promises.lookup", hostname));
  return originalPromisesLookup.call(this, hostname, ...rest);
};

// Bun's fetch, WebSocket, Bun.connect and node:http(s) (built on its fetch) do not go through
// node:net, so they are guarded here as well (under Node they all end in net, caught above).
if (typeof Bun !== "undefined") {
  for (const module of [require("node:http"), require("node:https")]) {
    for (const name of ["request", "get"]) {
      const original = module[name];
      module[name] = function guarded(...args) {
        const first = args[0];
        const url = typeof first === "string" || first instanceof URL ? new URL(first) : undefined;
        const options = url === undefined ? first : args.find((a) => a && typeof a === "object");
        const host = url?.hostname ?? options?.hostname ?? options?.host;
        if (!options?.socketPath && !isLoopback(host)) {
          const err = refuse(`http.${name}`, host, url?.port || options?.port);
          const request = new (require("node:events").EventEmitter)();
          request.end =
            request.write =
            request.setTimeout =
            request.abort =
              () => request;
          request.destroy = () => request;
          process.nextTick(() => request.emit("error", err));
          return request;
        }
        return original.apply(this, args);
      };
    }
  }
  const originalFetch = globalThis.fetch;
  const guardedFetch = function fetch(input, init) {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    if ((url.protocol === "http:" || url.protocol === "https:") && !isLoopback(url.hostname)) {
      return Promise.reject(refuse("fetch", url.hostname, url.port || undefined));
    }
    return originalFetch.call(this, input, init);
  };
  Object.assign(guardedFetch, originalFetch);
  globalThis.fetch = guardedFetch;
  const OriginalWebSocket = globalThis.WebSocket;
  if (OriginalWebSocket) {
    globalThis.WebSocket = class WebSocket extends OriginalWebSocket {
      constructor(address, ...rest) {
        const url = new URL(String(address));
        if (!isLoopback(url.hostname)) {
          throw refuse("WebSocket", url.hostname, url.port || undefined);
        }
        super(address, ...rest);
      }
    };
  }
  for (const name of ["connect", "udpSocket"]) {
    const original = Bun[name];
    if (typeof original !== "function") continue;
    try {
      Bun[name] = function guarded(options, ...rest) {
        const host = options && options.hostname;
        if (!(options && options.unix) && host !== undefined && !isLoopback(host)) {
          return Promise.reject(refuse(`Bun.${name}`, host, options.port));
        }
        return original.call(this, options, ...rest);
      };
    } catch {
      // Bun's own object may be read-only in some builds; fetch and node:net stay guarded.
    }
  }
  if (Bun.dns && typeof Bun.dns.lookup === "function") {
    const originalBunLookup = Bun.dns.lookup;
    try {
      Bun.dns.lookup = function lookup(hostname, ...rest) {
        if (!isLoopback(hostname)) return Promise.reject(refuse("Bun.dns.lookup", hostname));
        return originalBunLookup.call(this, hostname, ...rest);
      };
    } catch {
      // as above
    }
  }
}

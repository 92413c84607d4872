import assert from "node:assert/strict";
import {
  type AddressScope,
  addressScope,
  assertPublicHost,
  type HostResolver,
} from "../../src/core/host_guard.ts";

const signal = new AbortController().signal;

/** Maps two made-up names without the network; any other name is a test failure. */
const resolve: HostResolver = (hostname) => {
  const table: Record<string, string[]> = {
    "images.example.test": ["93.184.216.34", "2606:2800:220:1::1"],
    "intranet.example.test": ["10.0.0.1"],
    "nowhere.example.test": [],
  };
  const addresses = table[hostname];
  return addresses ? Promise.resolve(addresses) : Promise.reject(new Error("unexpected lookup"));
};

const mustNotResolve: HostResolver = () => Promise.reject(new Error("must not resolve"));

Deno.test("addressScope classifies IPv4 and IPv6 addresses", async (t) => {
  const cases: [address: string, scope: AddressScope][] = [
    ["93.184.216.34", "public"],
    ["8.8.8.8", "public"],
    ["0.0.0.0", "unspecified"],
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.0.1", "private"],
    ["169.254.169.254", "link-local"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["100.127.255.255", "carrier-grade NAT"],
    ["100.128.0.1", "public"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["255.255.255.255", "reserved"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["fe80::1%eth0", "link-local"],
    ["febf::1", "link-local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:5db8:d822", "public"],
    ["64:ff9b::a00:1", "private"],
    ["2002:c0a8:101::1", "private"],
    ["2606:2800:220:1::1", "public"],
    ["not an address", "invalid"],
    ["1.2.3.256", "invalid"],
    ["1::2::3", "invalid"],
    ["1:2:3:4:5:6:7:8:9", "invalid"],
  ];
  for (const [address, scope] of cases) {
    await t.step(`${address} is ${scope}`, () => {
      assert.equal(addressScope(address), scope);
    });
  }
});

Deno.test("assertPublicHost refuses local names and addresses", async (t) => {
  const refused: [url: string, reason: RegExp][] = [
    ["http://localhost:8000/a.png", /host "localhost" is not public: it is a local name/],
    ["http://LOCALHOST./a.png", /host "localhost" is not public: it is a local name/],
    ["http://api.localhost/a.png", /it is a local name/],
    ["http://metadata.google.internal/a", /it is a local name/],
    ["http://127.0.0.1/a.png", /host "127\.0\.0\.1" is not public: it is a loopback address/],
    ["http://0x7f.1/a.png", /host "127\.0\.0\.1" is not public: it is a loopback address/],
    ["http://2130706433/a.png", /it is a loopback address/],
    ["http://0.0.0.0/a.png", /it is an unspecified address/],
    ["http://[::1]/a.png", /host "\[::1\]" is not public: it is a loopback address/],
    ["http://[::ffff:10.0.0.1]/a.png", /it is a private address/],
    ["http://[fe80::1]/a.png", /it is a link-local address/],
    ["http://100.100.100.200/a.png", /it is a carrier-grade NAT address/],
    ["http://192.168.1.1/a.png", /it is a private address/],
  ];
  for (const [url, reason] of refused) {
    await t.step(`${url} is refused without a lookup`, async () => {
      await assert.rejects(
        assertPublicHost(new URL(url), { signal, resolve: mustNotResolve }),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.match(err.message, reason);
          assert.match(err.message, /; set IMAGE_URL_FETCH=all to allow private hosts$/);
          return true;
        },
      );
    });
  }

  await t.step("a name that resolves to a private address is refused", async () => {
    await assert.rejects(
      assertPublicHost(new URL("https://intranet.example.test/a.png"), { signal, resolve }),
      /host "intranet\.example\.test" is not public: it resolves to the private address "10\.0\.0\.1"/,
    );
  });

  await t.step("a name without addresses is refused", async () => {
    await assert.rejects(
      assertPublicHost(new URL("https://nowhere.example.test/"), { signal, resolve }),
      /host "nowhere\.example\.test" has no address/,
    );
  });
});

Deno.test("assertPublicHost lets public hosts through", async (t) => {
  await t.step("a name whose addresses are all public", async () => {
    await assertPublicHost(new URL("https://images.example.test/a.png"), { signal, resolve });
  });
  await t.step("a public IPv4 literal, without a lookup", async () => {
    await assertPublicHost(new URL("http://93.184.216.34/a.png"), {
      signal,
      resolve: mustNotResolve,
    });
  });
  await t.step("a public IPv6 literal, without a lookup", async () => {
    await assertPublicHost(new URL("http://[2606:2800:220:1::1]/a.png"), {
      signal,
      resolve: mustNotResolve,
    });
  });
});

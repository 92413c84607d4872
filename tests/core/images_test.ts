import assert from "node:assert/strict";
import type { ChatImage } from "../../src/core/chat.ts";
import type { HostResolver } from "../../src/core/host_guard.ts";
import {
  fetchImage,
  type FetchImageOptions,
  type ImageFetcher,
  MAX_IMAGE_REDIRECTS,
  parseDataUrl,
} from "../../src/core/images.ts";

const PNG_BASE64 = "iVBORw0KGgo=";

/** Tests that fetch from 127.0.0.1 need the address check off. */
const ALL: FetchImageOptions = { policy: "all" };

Deno.test("parseDataUrl decodes data URLs", async (t) => {
  const cases: { name: string; url: string; image?: ChatImage; error?: RegExp }[] = [
    {
      name: "base64 png",
      url: `data:image/png;base64,${PNG_BASE64}`,
      image: { mediaType: "image/png", data: PNG_BASE64 },
    },
    {
      name: "no media type defaults to jpeg",
      url: "data:;base64,AAAA",
      image: { mediaType: "image/jpeg", data: "AAAA" },
    },
    {
      name: "percent-encoded data",
      url: "data:image/gif,GIF89a%01",
      image: { mediaType: "image/gif", data: btoa("GIF89a\x01") },
    },
    {
      name: "image/jpg is read as image/jpeg",
      url: "data:image/jpg;base64,/9j/4A==",
      image: { mediaType: "image/jpeg", data: "/9j/4A==" },
    },
    {
      name: "line-wrapped and URL-safe base64 is sent as standard base64",
      url: "data:image/png;base64,iVBO\r\nRw0K_-8=",
      image: { mediaType: "image/png", data: "iVBORw0K/+8=" },
    },
    {
      name: "an image type Kiro refuses (SVG)",
      url: "data:image/svg+xml,%3Csvg%2F%3E",
      error: /image type "image\/svg\+xml" is not one Kiro accepts: send PNG, JPEG, GIF or WebP/,
    },
    {
      name: "an image type Kiro refuses (BMP)",
      url: "data:image/bmp;base64,Qk0=",
      error: /image type "image\/bmp" is not one Kiro accepts/,
    },
    {
      name: "text/html is not an image",
      url: "data:text/html;base64,PGI+",
      error: /media type "text\/html" is not an image/,
    },
    { name: "base64 of impossible length", url: "data:image/png;base64,AAAAA", error: /base64/ },
    { name: "empty data is dropped", url: "data:image/png;base64,", image: undefined },
    {
      name: "non-image media type",
      url: "data:text/plain;base64,AAAA",
      error: /"text\/plain" is not an image/,
    },
    {
      name: "percent-encoded data that is not valid",
      url: "data:image/png,%E0%A4%A",
      error: /not valid percent-encoding/,
    },
    {
      name: "uppercase scheme and base64 flag",
      url: `DATA:image/PNG;BASE64,${PNG_BASE64}`,
      image: { mediaType: "image/png", data: PNG_BASE64 },
    },
    { name: "no comma", url: "data:image/png;base64", error: /comma/ },
    { name: "bad base64", url: "data:image/png;base64,@@@", error: /not valid base64/ },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      if (c.error) assert.throws(() => parseDataUrl(c.url), c.error);
      else assert.deepEqual(parseDataUrl(c.url), c.image);
    });
  }
});

Deno.test("fetchImage checks status, type, size and time", async (t) => {
  const hang = Promise.withResolvers<void>();
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/ok.png") {
        return new Response(new Uint8Array([1, 2, 3]), {
          headers: { "content-type": "image/png; q=1" },
        });
      }
      if (path === "/page") {
        return new Response("<html>", {
          headers: { "content-type": "text/html" },
        });
      }
      if (path === "/icon.bmp") {
        return new Response(new Uint8Array([0x42, 0x4d]), {
          headers: { "content-type": "image/bmp" },
        });
      }
      if (path === "/big") {
        return new Response(new Uint8Array(64), { headers: { "content-type": "image/png" } });
      }
      if (path === "/slow") {
        await hang.promise;
        return new Response("late");
      }
      return new Response("missing", { status: 404 });
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const signal = new AbortController().signal;

  await t.step("an image answer becomes base64 with its media type", async () => {
    assert.deepEqual(await fetchImage(`${base}/ok.png`, signal, ALL), {
      mediaType: "image/png",
      data: "AQID",
    });
  });
  const failures: { name: string; path: string; options?: object; error: RegExp }[] = [
    { name: "a 404 fails", path: "/nope", error: /: the server answered 404$/ },
    { name: "a non-image type fails", path: "/page", error: /"text\/html" is not an image/ },
    {
      name: "an image type Kiro refuses fails",
      path: "/icon.bmp",
      error: /image type "image\/bmp" is not one Kiro accepts/,
    },
    {
      name: "a body above the cap fails",
      path: "/big",
      options: { maxBytes: 16 },
      error: /larger than 16 bytes/,
    },
    {
      name: "no answer in time fails",
      path: "/slow",
      options: { timeoutMs: 50 },
      error: /no answer within 50 ms/,
    },
  ];
  for (const c of failures) {
    await t.step(c.name, async () => {
      await assert.rejects(
        fetchImage(`${base}${c.path}`, signal, { ...ALL, ...c.options }),
        c.error,
      );
    });
  }
  hang.resolve();
});

Deno.test("fetchImage follows a few redirects and no more", async (t) => {
  const hits: string[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const path = new URL(req.url).pathname;
      hits.push(path);
      if (path === "/moved") return Response.redirect(new URL("/ok.png", req.url), 302);
      if (path === "/loop") {
        return new Response(null, { status: 307, headers: { location: "/loop" } });
      }
      if (path === "/to-file") {
        return new Response(null, { status: 301, headers: { location: "file:///etc/passwd" } });
      }
      return new Response(new Uint8Array([7]), { headers: { "content-type": "image/gif" } });
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const signal = new AbortController().signal;

  await t.step("a redirect is followed to the image", async () => {
    hits.length = 0;
    assert.deepEqual(await fetchImage(`${base}/moved`, signal, ALL), {
      mediaType: "image/gif",
      data: "Bw==",
    });
    assert.deepEqual(hits, ["/moved", "/ok.png"]);
  });

  await t.step("a redirect loop stops after the limit", async () => {
    hits.length = 0;
    await assert.rejects(
      fetchImage(`${base}/loop`, signal, ALL),
      new RegExp(`^Error: more than ${MAX_IMAGE_REDIRECTS} redirects$`),
    );
    assert.equal(hits.length, MAX_IMAGE_REDIRECTS + 1);
  });

  await t.step("a redirect to another scheme is refused", async () => {
    await assert.rejects(
      fetchImage(`${base}/to-file`, signal, ALL),
      /only http and https URLs are fetched/,
    );
  });
});

Deno.test("fetchImage keeps to the IMAGE_URL_FETCH policy", async (t) => {
  const NAMES: Record<string, string[]> = {
    "cdn.example.test": ["93.184.216.34"],
    "inside.example.test": ["10.0.0.1"],
    "split.example.test": ["93.184.216.34", "fd00::5"],
  };
  const resolve: HostResolver = (hostname) => {
    const addresses = NAMES[hostname];
    return addresses ? Promise.resolve(addresses) : Promise.reject(new Error("unknown name"));
  };
  /** Answers from a table of URL to Response factory and records every request. */
  const fakeWeb = (pages: Record<string, () => Response>) => {
    const requested: string[] = [];
    const fetch: ImageFetcher = (url) => {
      requested.push(url);
      const page = pages[url];
      return Promise.resolve(page ? page() : new Response("missing", { status: 404 }));
    };
    return { requested, fetch };
  };
  const png = () => new Response(new Uint8Array([1]), { headers: { "content-type": "image/png" } });
  const signal = new AbortController().signal;

  await t.step("public fetches a name that resolves to a public address", async () => {
    const web = fakeWeb({ "http://cdn.example.test/a.png": png });
    const image = await fetchImage("http://cdn.example.test/a.png", signal, {
      resolve,
      fetch: web.fetch,
    });
    assert.deepEqual(image, { mediaType: "image/png", data: "AQ==" });
    assert.deepEqual(web.requested, ["http://cdn.example.test/a.png"]);
  });

  const refusals: {
    name: string;
    url: string;
    pages?: Record<string, () => Response>;
    error: RegExp;
    requests: number;
  }[] = [
    {
      name: "a name that resolves to a private address",
      url: "http://inside.example.test/a.png",
      error:
        /host "inside\.example\.test" is not public: it resolves to the private address "10\.0\.0\.1"/,
      requests: 0,
    },
    {
      name: "a name with one private address among public ones",
      url: "https://split.example.test/a.png",
      error: /resolves to the private address "fd00::5"/,
      requests: 0,
    },
    {
      name: "a literal loopback address (the default policy)",
      url: "http://127.0.0.1:9/a.png",
      error: /host "127\.0\.0\.1" is not public: it is a loopback address; set IMAGE_URL_FETCH=all/,
      requests: 0,
    },
    {
      name: "the cloud metadata address",
      url: "http://169.254.169.254/latest/meta-data",
      error: /it is a link-local address/,
      requests: 0,
    },
    {
      name: "a public page that redirects to a private address",
      url: "http://cdn.example.test/a.png",
      pages: {
        "http://cdn.example.test/a.png": () => Response.redirect("http://10.0.0.1/admin.png", 302),
      },
      error: /host "10\.0\.0\.1" is not public: it is a private address/,
      requests: 1,
    },
    {
      name: "a public page that redirects to a private name",
      url: "http://cdn.example.test/a.png",
      pages: {
        "http://cdn.example.test/a.png": () =>
          Response.redirect("http://inside.example.test/x.png", 301),
      },
      error: /host "inside\.example\.test" is not public/,
      requests: 1,
    },
    {
      name: "a redirect to localhost",
      url: "http://cdn.example.test/a.png",
      pages: {
        "http://cdn.example.test/a.png": () => Response.redirect("http://localhost:8000/", 307),
      },
      error: /host "localhost" is not public: it is a local name/,
      requests: 1,
    },
  ];
  for (const c of refusals) {
    await t.step(`public refuses ${c.name}`, async () => {
      const web = fakeWeb(c.pages ?? {});
      await assert.rejects(fetchImage(c.url, signal, { resolve, fetch: web.fetch }), c.error);
      assert.equal(web.requested.length, c.requests);
    });
  }

  await t.step("all fetches private addresses", async () => {
    const web = fakeWeb({ "http://10.0.0.1/a.png": png });
    const image = await fetchImage("http://10.0.0.1/a.png", signal, {
      policy: "all",
      resolve: () => Promise.reject(new Error("must not resolve")),
      fetch: web.fetch,
    });
    assert.equal(image.mediaType, "image/png");
  });

  await t.step("off refuses every URL and says how to enable it", async () => {
    const web = fakeWeb({ "http://cdn.example.test/a.png": png });
    await assert.rejects(
      fetchImage("http://cdn.example.test/a.png", signal, {
        policy: "off",
        resolve,
        fetch: web.fetch,
      }),
      /^Error: image URL fetching is off: .*set IMAGE_URL_FETCH=public to enable it$/,
    );
    assert.deepEqual(web.requested, []);
  });

  await t.step("a lookup that never answers counts against the timeout", async () => {
    const hanging: HostResolver = (_name, lookupSignal) =>
      new Promise((_, reject) => {
        lookupSignal.addEventListener("abort", () => reject(lookupSignal.reason), { once: true });
      });
    await assert.rejects(
      fetchImage("http://slow.example.test/a.png", signal, { resolve: hanging, timeoutMs: 5 }),
      /no answer within 5 ms/,
    );
  });
});

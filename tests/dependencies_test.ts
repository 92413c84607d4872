/**
 * The lean first start, checked structurally: `deno task` downloads every npm package that
 * deno.json and deno.lock list before it runs a task, so they must list only what src/ imports;
 * everything tests/ and bench/ need on top lives in deno.test.json and deno.test.lock.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { readTasks, REPO_ROOT, splitWords } from "./ops/gateway_process.ts";

interface DenoConfig {
  imports?: Record<string, string>;
  unstable?: string[];
  compilerOptions?: Record<string, unknown>;
  nodeModulesDir?: string;
  lock?: string;
}

interface Lockfile {
  specifiers: Record<string, string>;
  npm?: Record<string, unknown>;
  workspace?: { dependencies?: string[] };
}

function readJson<T>(name: string): T {
  return JSON.parse(Deno.readTextFileSync(join(REPO_ROOT, name))) as T;
}

/** The npm package a bare specifier names: `@scope/name/sub` gives `@scope/name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** Bare (package) specifiers imported by the .ts files under `folder`, with a file each. */
function bareImports(folder: string): Map<string, string> {
  const found = new Map<string, string>();
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)"([^"]+)"/gm;
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) walk(path);
      else if (entry.name.endsWith(".ts")) {
        for (const match of Deno.readTextFileSync(path).matchAll(pattern)) {
          const specifier = match[1]!;
          if (!/^(@[\w.-]+\/)?\w[\w.-]*(\/[\w./-]*)?$/.test(specifier)) continue; // ./x, node:x, ${x}
          found.set(packageOf(specifier), relative(REPO_ROOT, path));
        }
      }
    }
  };
  walk(join(REPO_ROOT, folder));
  return found;
}

const runtime = readJson<DenoConfig>("deno.json");
const test = readJson<DenoConfig>("deno.test.json");

Deno.test("deno.json imports exactly the npm packages src/ imports", () => {
  const used = bareImports("src");
  const listed = Object.keys(runtime.imports ?? {}).sort();
  for (const [name, file] of used) {
    assert.ok(name in (runtime.imports ?? {}), `${file} imports "${name}": add it to deno.json`);
  }
  const unused = listed.filter((name) => !used.has(name));
  assert.deepEqual(
    unused,
    [],
    `deno.json lists packages src/ does not import (deno task start would download them): ` +
      `move ${unused.join(", ")} to deno.test.json`,
  );
});

Deno.test("deno.lock locks only deno.json's packages", () => {
  const lock = readJson<Lockfile>("deno.lock");
  const wanted = Object.values(runtime.imports ?? {}).sort();
  assert.deepEqual(Object.keys(lock.specifiers).sort(), wanted);
  assert.deepEqual([...lock.workspace?.dependencies ?? []].sort(), wanted);
});

Deno.test("deno.test.json has deno.json's packages and settings plus what tests and benches import", () => {
  for (const [name, target] of Object.entries(runtime.imports ?? {})) {
    assert.equal(test.imports?.[name], target, `deno.test.json must map "${name}" as deno.json`);
  }
  assert.deepEqual(test.unstable, runtime.unstable);
  assert.deepEqual(test.compilerOptions, runtime.compilerOptions);
  assert.equal(test.nodeModulesDir, runtime.nodeModulesDir);
  assert.equal(test.lock, "deno.test.lock");
  for (const folder of ["tests", "bench"]) {
    for (const [name, file] of bareImports(folder)) {
      assert.ok(
        name in (test.imports ?? {}),
        `${file} imports "${name}": add it to deno.test.json`,
      );
    }
  }
  const lock = readJson<Lockfile>("deno.test.lock");
  assert.deepEqual(
    [...lock.workspace?.dependencies ?? []].sort(),
    Object.values(test.imports ?? {}).sort(),
  );
});

Deno.test("gateway tasks resolve deno.json, test and bench tasks deno.test.json, all frozen", () => {
  for (const [name, command] of Object.entries(readTasks())) {
    for (const step of command.split("&&").map((part) => splitWords(part.trim()))) {
      const [deno, sub] = step;
      if (deno !== "deno" || !["run", "test", "check", "compile"].includes(sub!)) continue;
      const config = step.includes("--config") ? step[step.indexOf("--config") + 1] : "deno.json";
      const runsGateway = step.includes("src/main.ts");
      assert.equal(
        config,
        runsGateway ? "deno.json" : "deno.test.json",
        `task "${name}": "${step.join(" ").slice(0, 60)}…"`,
      );
      assert.ok(step.includes("--frozen"), `task "${name}" runs deno ${sub} without --frozen`);
    }
  }
});

/**
 * The release workflow runs every binary it builds on a runner of its own OS before attaching
 * it: the workflow's shape is checked here, and its smoke script is run for real against the
 * gateway from source with the binary's permission flags.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../helpers.ts";
import { denoDir, emptySandbox, readTasks, REPO_ROOT, taskFlags } from "./gateway_process.ts";

const WORKFLOW = Deno.readTextFileSync(join(REPO_ROOT, ".github/workflows/release.yml"));
const SMOKE_SCRIPT = join(REPO_ROOT, ".ci/smoke_binary.sh");

/** The top-level jobs of the workflow and their text. */
function jobs(): Map<string, string> {
  const body = WORKFLOW.slice(WORKFLOW.indexOf("\njobs:\n") + "\njobs:\n".length);
  const found = new Map<string, string>();
  for (const part of body.split(/\n(?= {2}[a-z_-]+:\n)/)) {
    const name = part.match(/^\s*([a-z_-]+):\n/)?.[1];
    if (name) found.set(name, part);
  }
  return found;
}

/** The runner a target's binary must run on: its OS and, where GitHub has both, its CPU. */
function runnerFits(target: string, runner: string): boolean {
  if (target.endsWith("-linux-gnu")) {
    return runner.startsWith("ubuntu") && target.startsWith("aarch64") === runner.endsWith("-arm");
  }
  if (target.endsWith("-apple-darwin")) {
    return runner.startsWith("macos") && target.startsWith("x86_64") === runner.includes("intel");
  }
  return target.endsWith("-windows-msvc") && runner.startsWith("windows");
}

Deno.test("every built target is run on a runner of its OS before the release gets it", () => {
  const all = jobs();
  const build = all.get("build") ?? "";
  const smoke = all.get("smoke") ?? "";
  const release = all.get("release") ?? "";
  assert.match(build, /deno task compile/);
  assert.match(smoke, /needs: build/);
  assert.match(release, /needs: smoke/, "the release waits for every smoke run");
  assert.match(smoke, /fail-fast: false/);
  assert.match(smoke, /\.ci\/smoke_binary\.sh "\$binary"/);
  for (const [name, text] of all) {
    if (name !== "release") assert.doesNotMatch(text, /gh release/, `${name} publishes`);
  }
  const targets = Object.keys(readTasks()).filter((task) => task.startsWith("compile:"))
    .map((task) => task.slice("compile:".length));
  assert.ok(targets.length >= 5, targets.join(" "));
  const matrix = [...smoke.matchAll(/- target: (\S+)\n\s+runner: (\S+)/g)];
  assert.deepEqual(matrix.map((m) => m[1]).sort(), [...targets].sort());
  for (const [, target, runner] of matrix) {
    assert.ok(runnerFits(target!, runner!), `${target} runs on ${runner}`);
  }
});

Deno.test("the smoke script runs --version, then --demo with one request per dialect", async () => {
  await using tmp = await tempDir();
  const { home } = await emptySandbox(tmp.path);
  // Stands in for a built binary: the source with the compiled binary's permission flags.
  const gateway = join(Deno.cwd(), tmp.path, "kiro-gateway");
  const flags = taskFlags("start", home).map((flag) => `'${flag}'`).join(" ");
  await Deno.writeTextFile(
    gateway,
    `#!/usr/bin/env bash\nexec '${Deno.execPath()}' run --config '${
      join(REPO_ROOT, "deno.json")
    }' ${flags} '${join(REPO_ROOT, "src", "main.ts")}' "$@"\n`,
  );
  await Deno.chmod(gateway, 0o755);
  const run = (binary: string) =>
    new Deno.Command("bash", {
      args: [SMOKE_SCRIPT, binary],
      env: { HOME: home, DENO_DIR: denoDir(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const passed = await run(gateway);
  const out = new TextDecoder().decode(passed.stdout);
  const err = new TextDecoder().decode(passed.stderr);
  assert.equal(passed.code, 0, `${out}\n${err}`);
  assert.match(out, /^kiro-gateway \d+\.\d+\.\d+/);
  for (const dialect of ["OpenAI chat completions", "Anthropic messages", "OpenAI Responses"]) {
    assert.match(out, new RegExp(`^${dialect}: ok$`, "m"));
  }

  // A binary that does not run is caught at its first step.
  const broken = join(Deno.cwd(), tmp.path, "broken");
  await Deno.writeTextFile(
    broken,
    "#!/usr/bin/env bash\necho 'cannot execute binary file' >&2\nexit 126\n",
  );
  await Deno.chmod(broken, 0o755);
  const failed = await run(broken);
  assert.notEqual(failed.code, 0);
  assert.match(new TextDecoder().decode(failed.stderr), /smoke test failed: --version exited/);
});

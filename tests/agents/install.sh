#!/usr/bin/env bash
# Installs the agent CLIs pinned in tests/agents/versions.json into .deno-tools/agents
# (gitignored; KIRO_AGENTS_DIR overrides it) with npm, once: a folder already holding exactly
# those versions is reused, so CI caches it between runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

prefix="${KIRO_AGENTS_DIR:-.deno-tools/agents}"
mkdir -p "$prefix"
wanted=$(node -e 'const v=require(process.argv[1]);process.stdout.write(JSON.stringify({private:true,dependencies:v},null,2))' "$PWD/tests/agents/versions.json")
if [ -f "$prefix/package.json" ] && [ "$(cat "$prefix/package.json")" = "$wanted" ] &&
  [ -x "$prefix/node_modules/.bin/claude" ] && [ -x "$prefix/node_modules/.bin/opencode" ] &&
  [ -x "$prefix/node_modules/.bin/codex" ]; then
  echo "Agent CLIs already installed in $prefix"
  exit 0
fi
printf '%s\n' "$wanted" > "$prefix/package.json"
# Exact versions, no lock file churn, no audit or funding calls; install scripts stay on
# because the CLIs pick their platform binary in them.
npm install --prefix "$prefix" --no-audit --no-fund --no-update-notifier --save-exact \
  --loglevel=error
echo "Agent CLIs installed in $prefix:"
for bin in claude opencode codex; do
  printf '  %s %s\n' "$bin" "$("$prefix/node_modules/.bin/$bin" --version 2>/dev/null | head -n 1)"
done

#!/usr/bin/env bash
# Runs one built gateway on the machine it is meant for before it is published: `--version`,
# then `--demo` on a free port with one chat request per dialect (OpenAI chat completions,
# Anthropic messages, OpenAI Responses). Exits non-zero, printing the gateway's output, when
# any step fails.
#
#   .ci/smoke_binary.sh dist/kiro-gateway-x86_64-unknown-linux-gnu
#
# The gateway may also be a command with arguments (the tests run the source this way).
set -uo pipefail

if [ "$#" -lt 1 ]; then
  echo "usage: $0 <gateway binary> [arguments before the gateway's own]" >&2
  exit 2
fi
gateway=("$@")
case "${gateway[0]}" in
  /* | [A-Za-z]:*) ;;
  *) gateway[0]="$PWD/${gateway[0]}" ;;
esac

work=$(mktemp -d)
pid=""
finish() {
  if [ -n "$pid" ]; then
    kill "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
  fi
  rm -rf "$work"
}
trap finish EXIT

fail() {
  echo "smoke test failed: $1" >&2
  for log in "$work/stdout.log" "$work/stderr.log"; do
    [ -f "$log" ] && sed 's/^/  | /' "$log" >&2
  done
  exit 1
}

version=$("${gateway[@]}" --version) || fail "--version exited with $?"
echo "$version"
case "$version" in
  "kiro-gateway "*) ;;
  *) fail "--version printed \"$version\"" ;;
esac

key="smoke-$RANDOM$RANDOM"
# The binary reads .env and keeps its state in the folder it starts in: an empty one here.
(cd "$work" && PROXY_API_KEY="$key" exec "${gateway[@]}" --demo --port 0 \
  > "$work/stdout.log" 2> "$work/stderr.log") &
pid=$!

url=""
for _ in $(seq 1 300); do
  url=$(grep -o 'listening on http://[^ ]*' "$work/stdout.log" 2> /dev/null | head -n 1)
  url=${url#listening on }
  [ -n "$url" ] && break
  kill -0 "$pid" 2> /dev/null || fail "the gateway exited before listening"
  sleep 0.1
done
[ -n "$url" ] || fail "the gateway did not listen within 30 s"
echo "listening on $url"

# ask NAME PATH BODY HEADER...: one request, which must answer 200 with the demo's reply.
ask() {
  local name=$1 path=$2 body=$3
  shift 3
  local status
  status=$(curl -sS -o "$work/answer.json" -w '%{http_code}' --max-time 30 \
    -H "content-type: application/json" "$@" -d "$body" "$url$path") ||
    fail "$name: the request failed"
  [ "$status" = "200" ] || fail "$name: status $status: $(cat "$work/answer.json")"
  grep -q '\[demo\]' "$work/answer.json" ||
    fail "$name: no demo reply in $(cat "$work/answer.json")"
  echo "$name: ok"
}

ask "OpenAI chat completions" /v1/chat/completions \
  '{"model":"claude-sonnet-4.5","messages":[{"role":"user","content":"Hello from the release smoke test"}]}' \
  -H "authorization: Bearer $key"
ask "Anthropic messages" /v1/messages \
  '{"model":"claude-sonnet-4.5","max_tokens":1000,"messages":[{"role":"user","content":"Hello from the release smoke test"}]}' \
  -H "x-api-key: $key" -H "anthropic-version: 2023-06-01"
ask "OpenAI Responses" /v1/responses \
  '{"model":"claude-sonnet-4.5","input":"Hello from the release smoke test"}' \
  -H "authorization: Bearer $key"

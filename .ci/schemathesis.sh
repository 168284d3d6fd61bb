#!/usr/bin/env bash
# The HTTP API fuzzed by schemathesis (PyPI) from its own OpenAPI document,
# once per role with that role's token: no answer may be a 5xx, and every
# answer must match the document. Runs the debug binary on a fresh demo
# database (SQLite) on a free loopback port; bounded in examples per
# operation and in time.
# Usage: .ci/schemathesis.sh [MAX_EXAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
max_examples=${1:-10}
bin=./target/debug/regie
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:${port}"

REGIE_LOG_LEVEL=warn "$bin" --data-dir "$work" serve --demo --listen "127.0.0.1:${port}" > "$work/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 120); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "$base/readyz" >/dev/null

status=0
while read -r user role password; do
  case "$user" in ''|'#'*) continue ;; esac
  token=$(curl -fsS -X POST "$base/api/v1/auth/token" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$user\",\"password\":\"$password\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  echo "--- schemathesis as $user ($role)"
  # Revoking one's own token would end the run, and schemathesis cannot
  # write a zip archive (the GraceTHD import): those two are left out.
  if ! timeout 600 schemathesis run "$base/api/v1/openapi.json" \
      --header "Authorization: Bearer ${token}" \
      --checks not_a_server_error,response_schema_conformance \
      --exclude-name 'DELETE /api/v1/auth/token' --exclude-name 'POST /api/v1/inventory/imports' \
      --max-examples "$max_examples" --generation-deterministic \
      --request-timeout 30 --no-color; then
    status=1
  fi
done < "$work/demo-credentials.txt"
exit $status

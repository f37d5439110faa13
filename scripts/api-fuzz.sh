#!/usr/bin/env bash
# Property-based API test of the socket (docs/reliability.md, "API fuzz"): starts kinsta-sim and kinsta-opsd on
# temporary paths, fetches the daemon's own description (GET /v1/openapi.json) from the socket, checks that it is valid
# OpenAPI 3.1 (openapi-spec-validator), and runs schemathesis against the real daemon through a loopback TCP proxy to
# the socket (scripts/socket-proxy.py), in all its phases (examples, coverage, fuzzing, stateful). Checks: every
# schemathesis check (no 5xx, status codes, bodies, headers and content types as documented, schema-valid data
# accepted, schema-invalid data refused, 405 with Allow for a method not served), then nothing stored for a refused
# request: the jobs in the database are exactly those answered 201.
# Usage: scripts/api-fuzz.sh [MAX_EXAMPLES] [SEED]     (default 50 and 1; KINSTA_BIN=DIR uses binaries already built)
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-50}
seed=${2:-1}
. scripts/lib.sh
work=$(mktemp -d /tmp/kinsta-apifuzz.XXXXXX)
sim_pid="" daemon_pid="" proxy_pid=""
cleanup() {
    for pid in "$proxy_pid" "$daemon_pid" "$sim_pid"; do
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
wait_for() { for _ in $(seq 1 300); do "$@" && return 0; sleep 0.1; done; echo "api-fuzz: timed out: $*" >&2; exit 1; }
started=$(date +%s)

"$bin/kinsta-sim" --port 0 --port-file "$work/sim.port" --window 1 --duration-scale 0.01 --seed 5 \
    --api-key fuzz-key >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
wait_for test -s "$work/sim.port"
port=$(cat "$work/sim.port")
cat >"$work/opsd.toml" <<TOML
[kinsta]
requests_per_minute = 60000
request_burst = 1000
[polling]
adaptive = false
first_poll_seconds = 0.2
interval_seconds = 0.2
max_interval_seconds = 0.5
TOML
KINSTA_API_KEY=fuzz-key KINSTA_API_BASE_URL="http://127.0.0.1:$port/v2" \
    KINSTA_COMPANY_ID=$(curl -fsS "http://127.0.0.1:$port/_sim/state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["company_id"])') \
    KINSTA_OPSD_STATE_DIR="$work/state" KINSTA_OPSD_SOCKET="$work/s.sock" \
    "$bin/kinsta-opsd" --config "$work/opsd.toml" 2>"$work/daemon.log" &
daemon_pid=$!
wait_for test -S "$work/s.sock"

curl -fsS --unix-socket "$work/s.sock" http://localhost/v1/openapi.json >"$work/openapi.json"
python3 - "$work/openapi.json" <<'PY'
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
document = json.load(open(sys.argv[1]))
validate(document, cls=OpenAPIV31SpecValidator)
kinds = document["components"]["schemas"]["SubmitJob"]["oneOf"]
print(f"api-fuzz: the document is valid OpenAPI {document['openapi']}: {len(document['paths'])} paths, "
      f"{sum(len(v) for v in document['paths'].values())} operations, {len(kinds)} kinds", file=sys.stderr)
PY

python3 scripts/socket-proxy.py --socket "$work/s.sock" --port-file "$work/proxy.port" --log "$work/proxy.log" \
    2>"$work/proxy.err" &
proxy_pid=$!
wait_for test -s "$work/proxy.port"
proxy=$(cat "$work/proxy.port")

echo "==> schemathesis against the daemon (max $examples examples per operation, seed $seed)" >&2
status=0
PYTHONPATH=scripts SCHEMATHESIS_HOOKS=api_fuzz_hooks schemathesis --config-file scripts/api-fuzz.toml run \
    "$work/openapi.json" --url "http://127.0.0.1:$proxy" --max-examples "$examples" --seed "$seed" \
    --generation-database none --no-color --report junit --report-dir "$work/report" \
    >"$work/schemathesis.out" 2>&1 || status=$?
# The summary block (the rest is in the report).
sed -n '/SUMMARY/,$p' "$work/schemathesis.out" | sed '/^$/d' >&2 || true
if [ "$status" -ne 0 ]; then
    echo "api-fuzz: schemathesis failed ($status); its failures (lines cut at 300 characters):" >&2
    sed -n '/^=* FAILURES\|^=* ERRORS/,/^=* WARNINGS\|^=* SUMMARY/p' "$work/schemathesis.out" | cut -c1-300 >&2
fi

# Nothing stored for a refused request: the database's jobs are exactly the IDs the proxy saw answered 201.
python3 - "$work/proxy.log" "$work/state/kinsta-opsd.sqlite" <<'PY' || status=1
import collections, json, sqlite3, sys
entries = [json.loads(line) for line in open(sys.argv[1])]
by_status = collections.Counter(e["status"] for e in entries)
created = {e["id"] for e in entries if e["status"] == 201 and e["method"] == "POST" and e["target"].startswith("/v1/jobs")}
stored = {row[0] for row in sqlite3.connect(f"file:{sys.argv[2]}?mode=ro", uri=True).execute("SELECT id FROM job")}
print(f"api-fuzz: {len(entries)} requests through the proxy; answers "
      + ", ".join(f"{code}: {count}" for code, count in sorted(by_status.items())), file=sys.stderr)
print(f"api-fuzz: {len(created)} jobs answered 201, {len(stored)} jobs stored", file=sys.stderr)
server_errors = sum(count for code, count in by_status.items() if code >= 500)
if stored != created or server_errors:
    print(f"api-fuzz: FAILED: stored but not answered 201: {sorted(stored - created)[:20]}; answered 201 but not "
          f"stored: {sorted(created - stored)[:20]}; 5xx answers: {server_errors}", file=sys.stderr)
    sys.exit(1)
PY
kill -0 "$daemon_pid" 2>/dev/null || { echo "api-fuzz: FAILED: the daemon is gone" >&2; status=1; }
echo "api-fuzz: $(( $(date +%s) - started )) s" >&2
[ "$status" -eq 0 ] && echo "api-fuzz: passed" >&2
exit "$status"

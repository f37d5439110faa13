#!/usr/bin/env bash
# The catalog run (docs/kinsta-api.md, "The daemon's contract check"): starts kinsta-sim and kinsta-opsd, reads
# the kinds from the daemon (GET /v1/kinds), submits one job of every kind through `kinsta-ops submit` with its
# flags from the catalog (values from scripts/samples.py and the simulator's state), carries each to its end, and
# then checks every request the daemon sent and every answer the simulator gave against Kinsta's OpenAPI file
# (scripts/contract-check.py). Fails when a job does not succeed, an output is missing, or a request is off the
# spec. Usage: scripts/catalog.sh      (KINSTA_BIN=DIR uses binaries already built)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
export PYTHONDONTWRITEBYTECODE=1
work=$(mktemp -d /tmp/kinsta-catalog.XXXXXX)
sim_pid="" daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
}
trap cleanup EXIT
fail() { echo "catalog: FAIL: $*" >&2; echo "catalog: logs in $work" >&2; trap - EXIT; cleanup; exit 1; }
wait_for() { for _ in $(seq 1 300); do "$@" && return 0; sleep 0.1; done; fail "timed out: $*"; }

"$bin/kinsta-sim" --port 0 --port-file "$work/sim.port" --window 1 --duration-scale 0.01 --seed 11 \
    --seed-sites 4 --refuse-blocked --api-key catalog-key >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
wait_for test -s "$work/sim.port"
port=$(cat "$work/sim.port")
curl -fsS "http://127.0.0.1:$port/_sim/state" >"$work/state.json"
company=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["company_id"])' "$work/state.json")
user=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"][0]["id"])' "$work/state.json")
cat >"$work/opsd.toml" <<TOML
[kinsta]
notified_user_id = "$user"
requests_per_minute = 6000
request_burst = 100
[polling]
adaptive = false
first_poll_seconds = 0.2
interval_seconds = 0.3
max_interval_seconds = 1
startup_window_seconds = 5
TOML
export KINSTA_OPS_SOCKET="$work/s.sock"
KINSTA_API_KEY=catalog-key KINSTA_API_BASE_URL="http://127.0.0.1:$port/v2" KINSTA_COMPANY_ID="$company" \
    KINSTA_OPSD_STATE_DIR="$work/state" KINSTA_OPSD_SOCKET="$work/s.sock" \
    "$bin/kinsta-opsd" --config "$work/opsd.toml" 2>"$work/daemon.log" &
daemon_pid=$!
wait_for "$bin/kinsta-ops" health --json >/dev/null 2>&1

"$bin/kinsta-ops" kinds --json >"$work/kinds.json"
python3 scripts/samples.py "$work/kinds.json" "$work/state.json" >"$work/samples.tsv"
total=$(wc -l <"$work/samples.tsv")
echo "catalog: $total kinds from the daemon" >&2
ids=()
while IFS=$'\t' read -r kind _ flags; do
    eval "set -- $flags"
    out=$("$bin/kinsta-ops" submit "$kind" "$@" --json) || fail "submit $kind $flags"
    ids+=("$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$out")")
done <"$work/samples.tsv"
for id in "${ids[@]}"; do "$bin/kinsta-ops" wait "$id" --timeout 120 >/dev/null 2>&1 || true; done
"$bin/kinsta-ops" jobs --limit 1000 --json >"$work/jobs.json"
"$bin/kinsta-ops" jobs --limit 1000

python3 - "$work/jobs.json" "$work/kinds.json" <<'PY' || fail "not every kind succeeded with its outputs"
import json, sys
jobs = json.load(open(sys.argv[1]))["jobs"]
kinds = {k["name"]: k for k in json.load(open(sys.argv[2]))["kinds"]}
bad = []
seen = set()
for job in jobs:
    seen.add(job["kind"])
    if job["state"] != "succeeded":
        bad.append(f'{job["kind"]} (job {job["id"]}) is {job["state"]}: {job.get("last_error")}')
        continue
    missing = [o["name"] for o in kinds[job["kind"]]["outputs"] if o["name"] not in (job.get("outputs") or {})]
    if missing:
        bad.append(f'{job["kind"]} (job {job["id"]}) succeeded without outputs {missing}')
for kind in sorted(set(kinds) - seen):
    bad.append(f"{kind}: no job")
print(f"catalog: {len(jobs)} jobs, {len(jobs) - len(bad)} succeeded with their outputs", file=sys.stderr)
for line in bad:
    print("   " + line, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

curl -fsS "http://127.0.0.1:$port/_sim/requests" >"$work/requests.json"
python3 scripts/contract-check.py "$work/requests.json" --quiet || fail "a request or answer is off Kinsta's OpenAPI file"
echo "catalog: PASS" >&2

#!/usr/bin/env bash
# Socket fuzz run (docs/reliability.md, "Socket fuzz"): starts kinsta-sim and kinsta-opsd on temporary paths, carries a few real jobs to their
# end (so "the database is unchanged" has rows to check), then sends REQUESTS malformed requests to the socket
# (scripts/fuzz-socket.py) and checks: no crash, every answer a JSON 4xx, the database unchanged and intact.
# Usage: scripts/fuzz.sh [REQUESTS] [SEED]     (default 10000 and 1; KINSTA_BIN=DIR uses binaries already built)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-10000}
seed=${2:-1}
. scripts/lib.sh
work=$(mktemp -d /tmp/kinsta-fuzz.XXXXXX)
sim_pid="" daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
}
trap cleanup EXIT
wait_for() { for _ in $(seq 1 300); do "$@" && return 0; sleep 0.1; done; echo "fuzz: timed out: $*" >&2; exit 1; }

"$bin/kinsta-sim" --port 0 --port-file "$work/sim.port" --window 1 --duration-scale 0.01 --seed 5 --seed-sites 4 \
    --api-key fuzz-key >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
wait_for test -s "$work/sim.port"
port=$(cat "$work/sim.port")
curl -fsS "http://127.0.0.1:$port/_sim/state" >"$work/state.json"
user=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"][0]["id"])' "$work/state.json")
cat >"$work/opsd.toml" <<TOML
[kinsta]
notified_user_id = "$user"
requests_per_minute = 6000
request_burst = 100
[daemon]
client_idle_timeout_seconds = 2
[polling]
adaptive = false
first_poll_seconds = 0.2
interval_seconds = 0.2
max_interval_seconds = 0.5
TOML
export KINSTA_OPS_SOCKET="$work/s.sock"
KINSTA_API_KEY=fuzz-key KINSTA_API_BASE_URL="http://127.0.0.1:$port/v2" \
    KINSTA_COMPANY_ID=$(curl -fsS "http://127.0.0.1:$port/_sim/state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["company_id"])') \
    KINSTA_OPSD_STATE_DIR="$work/state" KINSTA_OPSD_SOCKET="$work/s.sock" \
    "$bin/kinsta-opsd" --config "$work/opsd.toml" 2>"$work/daemon.log" &
daemon_pid=$!
wait_for test -S "$work/s.sock"
for i in 1 2 3; do
    "$bin/kinsta-ops" submit site.create_plain --display-name "Fuzz base $i" --region us-central1 --wait >/dev/null
done
echo "==> 3 jobs carried to the end; fuzzing the socket with $requests malformed requests (seed $seed)" >&2
# The kinds come from the daemon, their valid parameters from scripts/samples.py: every kind is fuzzed.
"$bin/kinsta-ops" kinds --json >"$work/kinds.json"
python3 scripts/fuzz-socket.py --socket "$work/s.sock" --db "$work/state/kinsta-opsd.sqlite" --pid "$daemon_pid" \
    --kinds "$work/kinds.json" --state "$work/state.json" \
    --requests "$requests" --seed "$seed" --idle-timeout 2 --slow-clients 20

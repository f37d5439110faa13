#!/usr/bin/env bash
# Connection flood (docs/reliability.md): starts kinsta-sim and kinsta-opsd on temporary paths, the daemon with an open-file
# limit of NOFILE (256), and floods its socket with FOLLOWERS (300) follow streams, more than the limit, while jobs
# run (scripts/flood.py). Two runs: max_connections above the limit (the daemon lowers its cap to fit, and accept()
# meets EMFILE while refused clients pile up) and below it. Each checks: the daemon never died, extra connections
# got a 503 too_many_connections or a clean close, followers saw gap-free seqs, jobs finished, the daemon stayed
# idle, and RSS came back near the start once the followers left (figures printed before/during/after).
# Usage: scripts/flood.sh [FOLLOWERS] [NOFILE]   (KINSTA_BIN=DIR uses binaries already built). Under 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
followers=${1:-300}
nofile=${2:-256}
. scripts/lib.sh
work=$(mktemp -d /tmp/kinsta-flood.XXXXXX)
sim_pid="" daemon_pid=""
stop_daemon() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=""
}
cleanup() {
    stop_daemon
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
}
trap cleanup EXIT
wait_for() { for _ in $(seq 1 300); do "$@" && return 0; sleep 0.1; done; echo "flood: timed out: $*" >&2; exit 1; }

# Operations of a few seconds, so jobs are in flight while the flood is on.
"$bin/kinsta-sim" --port 0 --port-file "$work/sim.port" --window 1 --duration-scale 0.03 --seed 13 \
    --api-key flood-key >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
wait_for test -s "$work/sim.port"
port=$(cat "$work/sim.port")
company=$(curl -fsS "http://127.0.0.1:$port/_sim/state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["company_id"])')

failed=0
phase() {  # NAME MAX_CONNECTIONS
    local name=$1 max=$2 extra=${3:-}
    cat >"$work/$name.toml" <<TOML
[kinsta]
requests_per_minute = 6000
request_burst = 100
[daemon]
max_connections = $max
shutdown_grace_seconds = 2
[polling]
adaptive = false
startup_window_seconds = 5
first_poll_seconds = 0.2
interval_seconds = 0.3
max_interval_seconds = 0.5
TOML
    rm -rf "$work/state"
    KINSTA_API_KEY=flood-key KINSTA_API_BASE_URL="http://127.0.0.1:$port/v2" KINSTA_COMPANY_ID="$company" \
        KINSTA_OPSD_STATE_DIR="$work/state" KINSTA_OPSD_SOCKET="$work/s.sock" \
        prlimit --nofile="$nofile:$nofile" "$bin/kinsta-opsd" --config "$work/$name.toml" 2>"$work/$name.log" &
    daemon_pid=$!
    wait_for test -S "$work/s.sock"
    echo "==> $name: open-file limit $nofile, max_connections $max, $followers followers" >&2
    if ! python3 scripts/flood.py --socket "$work/s.sock" --pid "$daemon_pid" --followers "$followers" --name "$name" --nofile "$nofile" $extra; then
        failed=1
        echo "flood: $name failed; the daemon's log is $work/$name.log" >&2
    fi
    grep -E '"open-file limit"|open-file limit|max_connections lowered' "$work/$name.log" | head -2 >&2 || true
    stop_daemon
}
phase above-the-limit 1000 "--silent 200"
phase below-the-limit 100
[ $failed -eq 0 ] && echo "flood: PASS" >&2 || echo "flood: FAIL" >&2
exit $failed

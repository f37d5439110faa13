#!/usr/bin/env bash
# Chaos run (issue 6, work in progress): JOBS jobs through the daemon and a chaotic simulator while the daemon is
# killed with SIGKILL at random moments, and crashes by itself between a POST and its commit (debug failpoint).
# Then checks, from the simulator's request log and the daemon's answers: no lost job, no duplicate submission,
# every job terminal, no job failed that the simulator completed.   Usage: scripts/chaos.sh [JOBS] [KILLS]
set -uo pipefail
cd "$(dirname "$0")/.."
jobs_total=${1:-60}
kills_wanted=${2:-10}
scripts/install-deps.sh
swift build 2>&1 | grep -E "error|Build complete" | tail -1 >&2
bin=$(swift build --show-bin-path)
work=$(mktemp -d /tmp/kinsta-chaos.XXXXXX)
echo "==> chaos run in $work: $jobs_total jobs, $kills_wanted kills" >&2

"$bin/kinsta-sim" --port 0 --port-file "$work/sim.port" --api-key chaos-key --window 4 --duration-scale 0.02 --seed 7 \
    --transient-500-rate 0.1 --late-404-rate 0.05 --server-error-rate 0.05 --garbage-rate 0.05 \
    --stall-rate 0.02 --stall-seconds 2 --rate-limit 600 --retry-after 1 --refuse-blocked >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 600); do [ -s "$work/sim.port" ] && break; sleep 0.1; done
port=$(cat "$work/sim.port")
[ -n "$port" ] || { echo "chaos: the simulator did not start" >&2; exit 1; }
company=$(curl -fsS "http://127.0.0.1:$port/_sim/state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["company_id"])')

cat >"$work/opsd.toml" <<TOML
[kinsta]
requests_per_minute = 3000
request_burst = 50
[polling]
# The simulator runs minutes in seconds: the fixed schedule below, not the learning one (priors in minutes).
adaptive = false
startup_window_seconds = 10
first_poll_seconds = 0.3
interval_seconds = 0.3
max_interval_seconds = 1
error_backoff_seconds = 0.3
error_backoff_max_seconds = 2
[deadlines]
# A create whose submission's fate a crash left unknown is looked for until its deadline: keep it short here.
site_create_plain = 120
TOML
export KINSTA_OPS_SOCKET="$work/s.sock"
# The daemon under a supervisor, as systemd's Restart= would run it; the failpoint crashes it now and then.
(
    while [ ! -e "$work/stop" ]; do
        KINSTA_API_KEY=chaos-key KINSTA_API_BASE_URL="http://127.0.0.1:$port/v2" KINSTA_COMPANY_ID="$company" \
        KINSTA_OPSD_STATE_DIR="$work/state" KINSTA_OPSD_SOCKET="$work/s.sock" KINSTA_OPSD_FAILPOINT=after-submit:0.05 \
            "$bin/kinsta-opsd" --config "$work/opsd.toml" 2>>"$work/daemon.log" &
        echo $! >"$work/daemon.pid"
        wait $!
        sleep 0.2
    done
) &
supervisor=$!

ops() { "$bin/kinsta-ops" "$@"; }
submitted=0
for i in $(seq 1 "$jobs_total"); do
    # A submission the daemon did not answer (killed meanwhile) is sent again with the same key: never twice.
    for _ in $(seq 1 100); do
        ops submit site.create_plain --display-name "Chaos $i" --region us-central1 --idempotency-key "chaos-$i" \
            --json >/dev/null 2>&1 && { submitted=$((submitted + 1)); break; }
        sleep 0.2
    done
done &
submitter=$!

kills=0
while [ $kills -lt "$kills_wanted" ]; do
    sleep "$(python3 -c 'import random; print(round(random.uniform(0.5, 3), 2))')"
    pid=$(cat "$work/daemon.pid" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
done
wait $submitter

echo "==> waiting for every job to end" >&2
for _ in $(seq 1 1200); do
    pending=$(ops jobs --json --limit 1000 2>/dev/null | python3 -c '
import json, sys
jobs = json.load(sys.stdin)["jobs"]
print(sum(1 for j in jobs if j["state"] in ("queued", "submitting", "accepted", "running")))' 2>/dev/null)
    [ "$pending" = "0" ] && break
    sleep 0.5
done
crashes=$(grep -c "failpoint after-submit hit" "$work/daemon.log")

ops jobs --json --limit 1000 >"$work/jobs.json"
curl -fsS "http://127.0.0.1:$port/_sim/requests" >"$work/requests.json"
curl -fsS "http://127.0.0.1:$port/_sim/operations" >"$work/operations.json"
touch "$work/stop"; kill -KILL "$(cat "$work/daemon.pid")" 2>/dev/null; kill $supervisor $sim_pid 2>/dev/null; wait 2>/dev/null

python3 - "$work" "$jobs_total" "$kills" "$crashes" <<'PY'
import collections, json, sys
work, total, kills, crashes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
jobs = json.load(open(work + "/jobs.json"))["jobs"]
requests = json.load(open(work + "/requests.json"))
operations = json.load(open(work + "/operations.json"))
accepted = collections.Counter(r["body"]["display_name"] for r in requests
    if r["method"] == "POST" and r["status"] == 202 and isinstance(r.get("body"), dict))
duplicates = sum(n - 1 for n in accepted.values() if n > 1)
states = collections.Counter(j["state"] for j in jobs)
sim_done = {o["display_name"] for o in operations if o["state"] == "succeeded"}
false_failures = [j["id"] for j in jobs if j["state"] == "failed" and j["params"].get("display_name") in sim_done]
lost = total - len(jobs)
unfinished = sum(states[s] for s in ("queued", "submitting", "accepted", "running"))
print(f"jobs {len(jobs)}/{total}, kills {kills}, failpoint crashes {crashes}, lost {lost}, duplicate submissions {duplicates}, "
      f"unfinished {unfinished}, false failures {len(false_failures)}, 429s {sum(1 for r in requests if r['status'] == 429)}")
print("states:", dict(states))
ok = lost == 0 and duplicates == 0 and unfinished == 0 and not false_failures
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY

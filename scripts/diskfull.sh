#!/usr/bin/env bash
# Disk-full run (docs/reliability.md, "Disk full"): the daemon's state directory on a small tmpfs, filled while a
# job's POST is at Kinsta and freed SECONDS later. Checks, from the simulator's request log, the socket and the
# database:
#   the job was POSTed once (its answer is committed once space is back, never sent again), at most a handful of
#   /operations polls went out while commits failed (the engine backs off as a whole), a submit on the socket got
#   503 storage_unavailable, and so did a plan (stored whole or not at all: none of its jobs is there), health answered
#   503 and STATUS= said "storage unavailable", everything went on by itself once space was back (the same plan then
#   runs to its end), every acknowledged job is there and PRAGMA integrity_check is ok.
# Needs root (it mounts a tmpfs). Usage: scripts/diskfull.sh [SECONDS]   (default 14; KINSTA_BIN=DIR uses binaries
# already built)
set -uo pipefail
cd "$(dirname "$0")/.."
outage=${1:-14}
. scripts/lib.sh
work=$(mktemp -d /tmp/kinsta-diskfull.XXXXXX)
state="$work/state"
sim_pid="" daemon_pid="" notify_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    [ -n "$notify_pid" ] && kill "$notify_pid" 2>/dev/null
    mountpoint -q "$state" && umount "$state"
}
trap cleanup EXIT
fail() { echo "diskfull: FAIL: $*" >&2; exit 1; }
wait_for() { for _ in $(seq 1 300); do "$@" && return 0; sleep 0.1; done; fail "timed out: $*"; }

mkdir -p "$state"
mount -t tmpfs -o size=3m,mode=0750 tmpfs "$state" || fail "cannot mount a tmpfs on $state (this run needs root)"
echo "==> disk-full run in $work: state on a 3 MB tmpfs, filled for $outage s while a POST is at Kinsta" >&2

"$bin/kinsta-sim" --port 0 --port-file "$work/sim.port" --window 1 --duration-scale 0.02 --seed 11 \
    --api-key disk-key --submit-delay 3 >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
wait_for test -s "$work/sim.port"
port=$(cat "$work/sim.port")
company=$(curl -fsS "http://127.0.0.1:$port/_sim/state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["company_id"])')

# systemd's notify socket, stood in for by a datagram listener that keeps every message
python3 - "$work/notify.sock" "$work/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", " | ") + "\n")
PY
notify_pid=$!
wait_for test -S "$work/notify.sock"

cat >"$work/opsd.toml" <<TOML
[polling]
# The issue's setting: a poll every 1-2 s (a storm, were every failed commit retried at once).
adaptive = false
first_poll_seconds = 1
interval_seconds = 1
max_interval_seconds = 2
TOML
export KINSTA_OPS_SOCKET="$work/s.sock"
NOTIFY_SOCKET="$work/notify.sock" KINSTA_API_KEY=disk-key KINSTA_API_BASE_URL="http://127.0.0.1:$port/v2" \
    KINSTA_COMPANY_ID="$company" KINSTA_OPSD_STATE_DIR="$state" KINSTA_OPSD_SOCKET="$work/s.sock" \
    "$bin/kinsta-opsd" --config "$work/opsd.toml" 2>"$work/daemon.log" &
daemon_pid=$!
wait_for test -S "$work/s.sock"
ops() { "$bin/kinsta-ops" "$@"; }
status() { curl -s -o "$2" -w '%{http_code}' --unix-socket "$work/s.sock" "http://localhost$1"; }

# A job whose POST Kinsta holds for 3 s; the disk fills while it is there
ops submit site.create_plain --display-name Disk-A --region us-central1 --json >"$work/a.json" || fail "submit A"
job_a=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/a.json")
sleep 1
dd if=/dev/zero of="$state/fill" bs=16k status=none 2>/dev/null
df -k "$state" | tail -1 | awk '{ if ($4 > 0) exit 1 }' || fail "the tmpfs is not full"
filled_at=$(python3 -c 'import time; print(time.time())')
echo "==> filled; the POST comes back in about 2 s" >&2
sleep 3
# A submit while the disk is full: refused with 503 storage_unavailable, nothing stored
code=$(curl -s -o "$work/full-submit.json" -w '%{http_code}' --unix-socket "$work/s.sock" \
    -H 'Content-Type: application/json' -d '{"kind":"site.create_plain","params":{"display_name":"Disk-X","region":"us-central1"}}' \
    http://localhost/v1/jobs)
[ "$code" = 503 ] || fail "a submit while the disk was full answered $code: $(cat "$work/full-submit.json")"
grep -q '"storage_unavailable"' "$work/full-submit.json" || fail "the 503 does not say storage_unavailable"
# A plan while the disk is full: refused whole with 503, none of its jobs stored
plan='{"name": "disk-plan", "steps": [
    {"id": "a", "kind": "site.create_plain", "params": {"display_name": "Disk-P1", "region": "us-central1"}},
    {"id": "b", "kind": "site.create_plain", "after": ["a"],
     "params": {"display_name": "Disk-P2", "region": "us-central1"}}]}'
printf '%s\n' "$plan" >"$work/plan.json"
code=$(curl -s -o "$work/full-plan.json" -w '%{http_code}' --unix-socket "$work/s.sock" \
    -H 'Content-Type: application/json' --data-binary @"$work/plan.json" http://localhost/v1/plans)
[ "$code" = 503 ] || fail "a plan while the disk was full answered $code: $(cat "$work/full-plan.json")"
grep -q '"storage_unavailable"' "$work/full-plan.json" || fail "the plan's 503 does not say storage_unavailable"
health=$(status /v1/health "$work/full-health.json")
[ "$health" = 503 ] || fail "health answered $health while commits failed"
grep -q '"storage_unavailable"' "$work/full-health.json" || fail "health does not say storage_unavailable"
sleep $((outage - 3))
rm -f "$state/fill"
freed_at=$(python3 -c 'import time; print(time.time())')
echo "==> freed after $outage s; waiting for the job to end" >&2

timeout 120 "$bin/kinsta-ops" wait "$job_a" >/dev/null 2>&1; wait_rc=$?
[ "$wait_rc" = 0 ] || fail "job $job_a did not succeed after space came back (wait exit $wait_rc): $(ops show "$job_a" 2>&1 | tail -5)"
ops submit site.create_plain --display-name Disk-B --region us-central1 --wait >/dev/null || fail "a job after the outage"
ops plan run "$work/plan.json" --wait --timeout 120 >/dev/null || fail "the plan after the outage did not succeed"
curl -fsS --unix-socket "$work/s.sock" http://localhost/v1/plans >"$work/plans.json"
health=$(status /v1/health "$work/after-health.json")
[ "$health" = 200 ] || fail "health answered $health after space came back"
curl -fsS "http://127.0.0.1:$port/_sim/requests" >"$work/requests.json"
ops jobs --json --limit 100 >"$work/jobs.json"
kill -TERM "$daemon_pid"; wait "$daemon_pid" 2>/dev/null; daemon_pid=""

python3 - "$work" "$filled_at" "$freed_at" <<'PY'
import json, sqlite3, sys
work, filled, freed = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
requests = json.load(open(work + "/requests.json"))
jobs = json.load(open(work + "/jobs.json"))["jobs"]
def at(r):
    # the simulator logs ISO dates or epoch seconds
    value = r["at"]
    if isinstance(value, (int, float)):
        return float(value)
    from datetime import datetime
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
posts = [r for r in requests if r["method"] == "POST" and r["path"].startswith("/v2/sites")]
def body(r):
    value = r.get("body") or {}
    return json.loads(value) if isinstance(value, str) else value
posts_a = [r for r in posts if body(r).get("display_name") == "Disk-A"]
polls_during = [r for r in requests if r["path"].startswith("/v2/operations") and filled <= at(r) <= freed]
notify = open(work + "/notify.log").read()
db = sqlite3.connect(f"file:{work}/state/kinsta-opsd.sqlite?mode=ro", uri=True)
integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
states = {j["params"]["display_name"]: j["state"] for j in jobs}
names = [j["params"]["display_name"] for j in jobs]
plans = json.load(open(work + "/plans.json"))["plans"]
failed_commits = open(work + "/daemon.log").read().count("could not commit a job transition")
print(f"diskfull: POSTs of Disk-A {len(posts_a)}, polls while full {len(polls_during)} "
      f"in {freed - filled:.0f} s, failed commits logged {failed_commits}, jobs {states}, plans "
      f"{[(p['name'], p['state']) for p in plans]}, integrity_check {integrity}")
print("  STATUS= lines:", [l for l in notify.splitlines() if "STATUS=storage" in l][:2])
problems = []
if len(posts_a) != 1: problems.append(f"Disk-A was POSTed {len(posts_a)} times")
if len(polls_during) > 6: problems.append(f"{len(polls_during)} polls went out while commits failed")
if "STATUS=storage unavailable" not in notify: problems.append("STATUS= never said storage unavailable")
if states.get("Disk-A") != "succeeded" or states.get("Disk-B") != "succeeded": problems.append(f"states {states}")
if "Disk-X" in states: problems.append("the submit refused with 503 was stored")
if names.count("Disk-P1") != 1 or names.count("Disk-P2") != 1:
    problems.append(f"the plan refused with 503 left jobs: {names}")
if len(plans) != 1 or plans[0]["state"] != "succeeded":
    problems.append(f"plans {[(p['id'], p['state']) for p in plans]}")
if integrity != "ok": problems.append(f"integrity_check {integrity}")
print("PASS" if not problems else "FAIL: " + "; ".join(problems))
sys.exit(1 if problems else 0)
PY

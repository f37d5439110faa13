#!/usr/bin/env bash
# Chaos run (docs/reliability.md, "Chaos"): JOBS jobs of the five original kinds, manual backups (settled by their
# tag), cache clears (sent again when unclear) and plans (a backup, then a cache clear after it) through the daemon and a chaotic simulator, while the daemon is
# killed with SIGKILL at random moments (at least KILLS times) and also crashes by itself right after a POST, before
# its answer is committed (debug failpoint). The simulator answers transient 500s and late 404s while operations run,
# 502/503 HTML pages, bodies that are not JSON, stalls longer than the daemon's request timeout (so submits time out
# and must be settled by reading), a per-minute limit with 429 + Retry-After, "environment is blocked" refusals, and
# real failures. Then it checks, from the simulator's request log and the daemon's database:
#   0 lost jobs, 0 duplicate submissions (a DELETE sent again after the first failed at Kinsta is not one), every
#   job terminal, no job failed that the simulator completed, no job succeeded whose operation failed, every plan
#   ended with one plan.finished, no step sent before the step it comes after succeeded (and none sent after it did
#   not), PRAGMA integrity_check ok.
# Usage: scripts/chaos.sh [JOBS] [KILLS] [SEED]   (default 200, 20, 7; KINSTA_BIN=DIR uses binaries already built,
# which must be a debug build: the failpoint is compiled into debug builds only)
set -uo pipefail
cd "$(dirname "$0")/.."
jobs_total=${1:-200}
kills_wanted=${2:-20}
seed=${3:-7}
. scripts/lib.sh
work=$(mktemp -d /tmp/kinsta-chaos.XXXXXX)
started=$(date +%s)
echo "==> chaos run in $work: $jobs_total jobs, at least $kills_wanted SIGKILLs, seed $seed" >&2

seed_sites=$((jobs_total / 2 + 8))
"$bin/kinsta-sim" --port 0 --port-file "$work/sim.port" --api-key chaos-key --window 4 --duration-scale 0.02 \
    --seed "$seed" --seed-sites "$seed_sites" --failure-rate 0.05 \
    --transient-500-rate 0.1 --late-404-rate 0.05 --server-error-rate 0.05 --garbage-rate 0.05 \
    --stall-rate 0.03 --stall-seconds 2 --rate-limit 300 --retry-after 1 --refuse-blocked --blocked-rate 0.1 \
    --began-error-rate 0.05 --echo-secrets \
    >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
exec 3>&2 2>>"$work/harness.log"  # bash reports each SIGKILLed daemon ("Killed"); keep that out of the figures

for _ in $(seq 1 600); do [ -s "$work/sim.port" ] && break; sleep 0.1; done
port=$(cat "$work/sim.port")
[ -n "$port" ] || { echo "chaos: the simulator did not start" >&2; exit 1; }
curl -fsS "http://127.0.0.1:$port/_sim/state" >"$work/state.json"
company=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["company_id"])' "$work/state.json")
user=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["users"][0]["id"])' "$work/state.json")

# The jobs: creates (WordPress and plain), clones of seed environments, deletes of seed sites, restores of seed
# backups; each with an identity the checker finds in the simulator's log (a name, a site, an environment).
python3 - "$work/state.json" "$jobs_total" "$seed" "$user" >"$work/jobs.txt" <<'PY'
import json, random, sys
state, total, seed, user = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = random.Random(seed)
sites = state["sites"]
kinds = (["site.create_plain"] * 30 + ["site.create"] * 15 + ["site.clone"] * 15 + ["site.delete"] * 20
         + ["backup.restore"] * 20 + ["backup.create"] * 12 + ["cache.clear"] * 8 + ["plan"] * 10)
spare = sites[-6:]  # backups and cache clears: on seed sites no other job deletes or restores
free = list(range(len(sites) - 6))  # each other seed site serves one delete, restore or clone source
for i in range(1, total + 1):
    kind = r.choice(kinds)
    if kind == "plan":  # a backup, then a cache clear once it succeeded (two jobs, one submission)
        print(f"{i} PLAN {r.choice(spare)['environments'][1]['id']} {r.choice(spare)['environments'][0]['id']}")
        continue
    if kind == "backup.create":
        env = r.choice(spare)["environments"][1]
        print(f"{i} backup.create --env-id {env['id']} --tag Chaos-{i}")
        continue
    if kind == "cache.clear":
        env = r.choice(spare)["environments"][0]
        print(f"{i} cache.clear --environment-id {env['id']}")
        continue
    if kind in ("site.delete", "backup.restore", "site.clone") and not free:
        kind = "site.create_plain"
    if kind == "site.create_plain":
        print(f"{i} site.create_plain --display-name Chaos-{i} --region us-central1")
    elif kind == "site.create":
        print(f"{i} site.create --display-name Chaos-{i} --region us-central1 --admin-email a{i}@example.com "
              f"--admin-user admin --site-title Chaos-{i} --admin-password-file PASSWORD")
    else:
        site = sites[free.pop(r.randrange(len(free)))]
        env = site["environments"][0]
        if kind == "site.delete":
            print(f"{i} site.delete --site-id {site['id']}")
        elif kind == "site.clone":
            print(f"{i} site.clone --display-name Chaos-{i} --source-env-id {env['id']}")
        else:
            print(f"{i} backup.restore --target-env-id {env['id']} --backup-id {env['backups'][0]['id']} "
                  f"--notified-user-id {user}")
PY
printf 'Chaos-admin-pw-1\n' >"$work/password"; chmod 600 "$work/password"

cat >"$work/opsd.toml" <<TOML
[kinsta]
# Above the simulator's 300 a minute, so 429s come and must be ridden out.
requests_per_minute = 480
request_burst = 20
# Shorter than the simulator's stalls: a stalled submit times out and its fate must be settled by reading.
request_timeout_seconds = 1
[daemon]
max_in_flight = 16
shutdown_grace_seconds = 2
[polling]
# The simulator runs minutes in seconds: the fixed schedule below, not the learning one (priors in minutes).
adaptive = false
startup_window_seconds = 10
first_poll_seconds = 0.3
interval_seconds = 0.3
max_interval_seconds = 1
error_backoff_seconds = 0.3
error_backoff_max_seconds = 2
# The simulator's operations take seconds: a 500 must be seen over 5 s here (60 s by default).
confirm_seconds = 5
[settle_grace]
# The simulator's operations take seconds: a create with no trace 15 s after an unclear answer is sent again.
site_create = 15
site_create_plain = 15
site_clone = 15
backup_create = 15
[deadlines]
# A create whose submission a crash left unclear is looked for until its deadline: keep them short here.
site_create = 120
site_create_plain = 120
site_clone = 120
backup_create = 120
TOML
export KINSTA_OPS_SOCKET="$work/s.sock"
# The daemon under a supervisor, as systemd's Restart= would run it; the failpoint crashes it after 3 % of POSTs.
(
    while [ ! -e "$work/stop" ]; do
        KINSTA_API_KEY=chaos-key KINSTA_API_BASE_URL="http://127.0.0.1:$port/v2" KINSTA_COMPANY_ID="$company" \
        KINSTA_OPSD_STATE_DIR="$work/state" KINSTA_OPSD_SOCKET="$work/s.sock" KINSTA_OPSD_FAILPOINT=after-submit:0.03 \
            "$bin/kinsta-opsd" --config "$work/opsd.toml" 2>>"$work/daemon.log" &
        echo $! >"$work/daemon.pid"
        wait $! 2>/dev/null
        sleep 0.2
    done
) &
supervisor=$!

ops() { "$bin/kinsta-ops" "$@"; }
# The submitter: a submission the daemon did not answer (killed meanwhile) is sent again with the same key, which
# returns the job already stored instead of a second one.
while read -r i args; do
    args=${args//PASSWORD/$work/password}
    command=(submit)
    if [[ $args == PLAN* ]]; then
        read -r _ backup_env clear_env <<<"$args"
        printf '%s\n' "{\"name\": \"chaos-$i\", \"steps\": [
            {\"id\": \"backup\", \"kind\": \"backup.create\", \"params\": {\"env_id\": \"$backup_env\", \"tag\": \"Chaos-$i\"}},
            {\"id\": \"clear\", \"kind\": \"cache.clear\", \"after\": [\"backup\"],
             \"params\": {\"environment_id\": \"$clear_env\"}}]}" >"$work/plan-$i.json"
        command=(plan run); args="$work/plan-$i.json"
    fi
    for _ in $(seq 1 300); do
        # shellcheck disable=SC2086
        ops "${command[@]}" $args --idempotency-key "chaos-$i" --json >/dev/null 2>>"$work/submit.log" && {
            echo "$i" >>"$work/submitted"; break; }
        sleep 0.2
    done
done <"$work/jobs.txt" &
submitter=$!

# The killer: SIGKILL at random moments, spread over the run, until enough kills and every job is submitted.
kills=0
while [ $kills -lt "$kills_wanted" ] || kill -0 $submitter 2>/dev/null; do
    sleep "$(python3 -c 'import random; print(round(random.uniform(0.5, 4), 2))')"
    pid=$(cat "$work/daemon.pid" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
done
wait $submitter

echo "==> $kills SIGKILLs sent; waiting for every job to end" >&3
for _ in $(seq 1 1800); do
    pending=$(ops jobs --json --limit 1000 2>/dev/null | python3 -c '
import json, sys
jobs = json.load(sys.stdin)["jobs"]
print(sum(1 for j in jobs if j["state"] in ("held", "waiting", "queued", "submitting", "accepted", "running")))' 2>/dev/null)
    [ "$pending" = "0" ] && break
    sleep 0.5
done
crashes=$(grep -c "failpoint after-submit hit" "$work/daemon.log")

ops jobs --json --limit 1000 >"$work/jobs.json"
# The whole history, page by page (the socket answers at most 10000 events a request).
after=0
: >"$work/events.ndjson"
while page=$(curl -fsS --unix-socket "$work/s.sock" "http://localhost/v1/events?after=$after&limit=10000") \
    && [ -n "$page" ]; do
    printf '%s\n' "$page" >>"$work/events.ndjson"
    after=$(printf '%s\n' "$page" | tail -n 1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])')
done
curl -fsS "http://127.0.0.1:$port/_sim/requests" >"$work/requests.json"
curl -fsS "http://127.0.0.1:$port/_sim/operations" >"$work/operations.json"
touch "$work/stop"; kill -TERM "$(cat "$work/daemon.pid")" 2>/dev/null; sleep 1
kill -KILL "$(cat "$work/daemon.pid")" 2>/dev/null; kill $supervisor $sim_pid 2>/dev/null; wait 2>/dev/null

python3 - "$work" "$jobs_total" "$kills" "$crashes" "$(( $(date +%s) - started ))" <<'PY'
import collections, json, sqlite3, sys
work, total, kills, crashes, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
jobs = json.load(open(work + "/jobs.json"))["jobs"]
requests = json.load(open(work + "/requests.json"))
operations = json.load(open(work + "/operations.json"))
acknowledged = len(open(work + "/submitted").read().split())
lines = open(work + "/jobs.txt").read().splitlines()
plans_submitted = sum(1 for line in lines if line.split()[1] == "PLAN")
expected_jobs = len(lines) + plans_submitted  # a plan is two jobs

def identity_of_job(job):
    p = job["params"]
    if job["kind"] == "backup.create":
        return ("backup.create", p["tag"])
    if job["kind"] == "cache.clear":
        return ("cache.clear", job["id"])
    if job["kind"] == "site.delete":
        return ("site.delete", p["site_id"])
    if job["kind"] == "backup.restore":
        return ("backup.restore", p["target_env_id"])
    return ("create", p["display_name"])

def identity_of_request(r):
    path, body = r["path"].split("?")[0], r.get("body") if isinstance(r.get("body"), dict) else {}
    if r["method"] == "DELETE" and path.startswith("/v2/sites/"):
        return ("site.delete", path.rsplit("/", 1)[1])
    if r["method"] == "POST" and path.endswith("/backups/restore"):
        return ("backup.restore", path.split("/")[4])
    if r["method"] == "POST" and path.endswith("/manual-backups"):
        # The daemon sends the job's tag marked with the job and attempt: "Chaos-12 (kinsta-opsd job 12/1)".
        return ("backup.create", (body.get("tag") or "").split(" (kinsta-opsd job ")[0])
    if r["method"] == "POST" and path in ("/v2/sites", "/v2/sites/plain", "/v2/sites/clone"):
        return ("create", body.get("display_name"))
    return None

identity_by_operation = {r["operation_id"]: identity_of_request(r) for r in requests if r.get("operation_id")}
job_by_operation = {j["operation_id"]: j for j in jobs if j.get("operation_id")}

def identity_of_operation(o):
    if o["kind"] == "backup.create":
        return identity_by_operation.get(o["operation_id"])
    if o["kind"] == "cache.clear":  # harmless when repeated: only the operation the job ended on is checked
        job = job_by_operation.get(o["operation_id"])
        return ("cache.clear", job["id"]) if job else None
    if o["kind"] == "site.delete":
        return ("site.delete", o["target"])
    if o["kind"] == "backup.restore":
        return ("backup.restore", o["target"])
    return ("create", o["display_name"])

# A second submission Kinsta took (a 202, or a 5xx after the work began: the simulator logs the operation either
# way) for one identity is a duplicate, with one exception the daemon's rules allow: a DELETE sent again after a
# crash left no trace of the first (a repeat is harmless), or a create or manual backup sent again once its settle
# grace showed no trace of the first, is taken again only if every earlier one had failed at Kinsta before it, so
# the site was still deleted, or created, and the backup made, once.
operation_by_id = {o["operation_id"]: o for o in operations}
accepted_by_identity = collections.defaultdict(list)
for r in sorted(requests, key=lambda r: r["seq"]):
    if (r["status"] == 202 or r.get("operation_id")) and identity_of_request(r) is not None:
        accepted_by_identity[identity_of_request(r)].append(r)
duplicates = redeleted = recreated = rebacked = 0
for identity, accepted in accepted_by_identity.items():
    for index, later in enumerate(accepted[1:], start=1):
        earlier = [operation_by_id.get(r.get("operation_id")) for r in accepted[:index]]
        all_failed = all(o is not None and o["state"] == "failed" and o["done_at"] < later["at"] for o in earlier)
        if identity[0] == "site.delete" and all_failed:
            redeleted += 1
        elif identity[0] == "create" and all_failed:
            recreated += 1
        elif identity[0] == "backup.create" and all_failed:
            rebacked += 1
        else:
            duplicates += 1
# Secrets: the simulator echoed the Authorization header and every request body (admin_password) in its answers;
# none may reach the job history, the events, the log or the database file.
secrets = {"API key": "chaos-key", "WordPress password": "Chaos-admin-pw-1"}
events_text = open(work + "/events.ndjson").read()
# Every job has at least its "queued" event: an empty history means the history was not read, and checks nothing.
events_read = len({json.loads(line)["job_id"] for line in events_text.splitlines() if line.strip()})
if events_read < len(jobs):
    print(f"chaos: the history holds events of {events_read} jobs out of {len(jobs)}")
places = {"jobs": json.dumps(jobs), "events": events_text, "daemon log": open(work + "/daemon.log").read()}
for suffix in ("", "-wal"):
    try:
        places["database" + suffix] = open(f"{work}/state/kinsta-opsd.sqlite{suffix}", "rb").read().decode("latin-1")
    except FileNotFoundError:
        pass
leaks = [f"{name} in {place}" for place, text in places.items() for name, value in secrets.items() if value in text]
echoed = sum(1 for r in requests if r["path"].startswith("/v2"))
outcomes = collections.defaultdict(set)
for o in operations:
    outcomes[identity_of_operation(o)].add(o["state"])
states = collections.Counter(j["state"] for j in jobs)
false_failures = [j["id"] for j in jobs if j["state"] == "failed" and "succeeded" in outcomes[identity_of_job(j)]]
false_successes = [j["id"] for j in jobs if j["state"] == "succeeded" and identity_of_job(j)[0] != "site.delete"
                   and "succeeded" not in outcomes[identity_of_job(j)]]
# Every job the daemon acknowledged must be there, and nothing else (the submitter retries until acknowledged).
lost = max(acknowledged + plans_submitted, expected_jobs) - len(jobs)
unfinished = sum(states[s] for s in ("held", "waiting", "queued", "submitting", "accepted", "running"))
# Plans: each ended once; a step was sent only after the step it comes after succeeded, and never when it did not.
events = [json.loads(line) for line in events_text.splitlines() if line.strip()]
plan_ends = collections.Counter(e["plan_id"] for e in events if e.get("plan_id"))
plans = collections.defaultdict(dict)
for job in jobs:
    if job.get("plan_id"):
        plans[job["plan_id"]][job["step"]] = job
first_seq = {}
for e in events:
    first_seq.setdefault((e["job_id"], e["to"]), e["seq"])
order_violations = []
for plan_id, steps in plans.items():
    backup, clear = steps.get("backup"), steps.get("clear")
    if backup is None or clear is None:
        order_violations.append(f"plan {plan_id} lacks a step")
        continue
    sent = first_seq.get((clear["id"], "submitting"))
    if backup["state"] != "succeeded" and (sent is not None or clear["state"] != "skipped"):
        order_violations.append(f"plan {plan_id}: clear {clear['state']} after backup {backup['state']}")
    if sent is not None and sent < first_seq.get((backup["id"], "succeeded"), 1 << 62):
        order_violations.append(f"plan {plan_id}: clear sent before the backup succeeded")
plans_unended = [p for p in plans if plan_ends[p] != 1]
refused_429 = sum(1 for r in requests if r["status"] == 429)
chaos_answers = collections.Counter(r["status"] for r in requests if r["path"].startswith("/v2"))
db = sqlite3.connect(f"file:{work}/state/kinsta-opsd.sqlite?mode=ro", uri=True)
integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
kinds = collections.Counter(j["kind"] for j in jobs)
print(f"chaos: {len(jobs)}/{total} jobs ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}) in {seconds} s")
print(f"  SIGKILLs {kills}, failpoint crashes between POST and commit {crashes}, Kinsta requests {len(requests)} "
      f"(refused with 429: {refused_429})")
print(f"  simulator answers: {dict(sorted(chaos_answers.items()))}")
print(f"  lost {lost}, duplicate submissions {duplicates}, unfinished {unfinished}, false failures "
      f"{len(false_failures)}, false successes {len(false_successes)}, integrity_check {integrity}")
if redeleted:
    print(f"  deletes sent again after a crash, accepted once the first had failed at Kinsta: {redeleted}")
if recreated:
    print(f"  creates sent again after their settle grace, taken once the first had failed at Kinsta: {recreated}")
if rebacked:
    print(f"  manual backups sent again after their settle grace, taken once the first had failed at Kinsta: {rebacked}")
print(f"  secrets leaked from {echoed} echoing answers: {len(leaks)}" + (f" ({', '.join(leaks)})" if leaks else ""))
print(f"  plans {len(plans)}/{plans_submitted}, not ended exactly once {len(plans_unended)}, steps out of order "
      f"{len(order_violations)}" + (f" ({'; '.join(order_violations[:5])})" if order_violations else ""))
print("  states:", dict(sorted(states.items())))
for job in jobs:
    if job["state"] in ("needs_attention", "timed_out") or job["id"] in false_failures + false_successes:
        print(f"    job {job['id']} {job['kind']} {job['state']}: {(job.get('last_error') or '')[:150]}")
ok = lost == 0 and duplicates == 0 and unfinished == 0 and not false_failures and not false_successes \
    and integrity == "ok" and not leaks and events_read == len(jobs) and not order_violations \
    and not plans_unended and len(plans) == plans_submitted
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY

#!/usr/bin/env bash
# The demo: builds, starts kinsta-sim and kinsta-opsd on temporary paths, submits with kinsta-ops one job of each of
# the five original kinds, the seeds' two Slack commands (cache.clear, php.restart) and a manual backup, waits for
# each, runs one plan (backup, push staging to live, cache clear), prints the job table, the event history and the
# new backup, and stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Only the three executables the demo runs (not the tests, the benchmark or the probes), with SwiftPM's progress
# shown as it goes: one line updated in place on a terminal, a line every 50 steps otherwise; errors (and warnings in
# the project's own code) in full.
build_product() {
    local product=$1 step=0 line
    set +e
    swift build --product "$product" 2>&1 | while IFS= read -r line; do
        case "$line" in
            *error:*) printf '\n%s\n' "$line" >&2 ;;
            *"$PWD/Sources/"*warning:*) printf '\n%s\n' "$line" >&2 ;;  # ours; the packages' own are not
            \[*/*\]*)
                step=$((step + 1))
                if [ -t 2 ]; then
                    printf '\r\033[2K    %s: %.100s' "$product" "$line" >&2
                elif [ $((step % 50)) -eq 1 ]; then
                    printf '    %s: %.100s\n' "$product" "$line" >&2
                fi
                ;;
        esac
    done
    local status=${PIPESTATUS[0]}
    set -e
    [ -t 2 ] && printf '\r\033[2K' >&2
    [ "$status" -eq 0 ] || { echo "demo: building $product failed (swift build --product $product)" >&2; exit 1; }
    echo "    $product built" >&2
}
echo "==> building kinsta-sim, kinsta-opsd and kinsta-ops (the first build takes a few minutes)" >&2
for product in kinsta-sim kinsta-opsd kinsta-ops; do build_product "$product"; done
bin=$(swift build --show-bin-path)
for exe in kinsta-sim kinsta-opsd kinsta-ops; do
    [ -x "$bin/$exe" ] || { echo "demo: $bin/$exe was not built" >&2; exit 1; }
done

work=$(mktemp -d /tmp/kinsta-demo.XXXXXX)
sim_pid="" daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
    echo "==> demo files (logs, database) left in $work" >&2
}
trap cleanup EXIT

wait_for() { # wait_for DESCRIPTION COMMAND…: up to 30 s
    local what=$1; shift
    for _ in $(seq 1 300); do "$@" && return 0; sleep 0.1; done
    echo "demo: timed out waiting for $what" >&2; exit 1
}

echo "==> starting kinsta-sim (Kinsta API simulator: 0–3 s start-up 404 window, jobs take seconds, not minutes)" >&2
"$bin/kinsta-sim" --port 0 --port-file "$work/sim.port" --window 3 --duration-scale 0.03 --seed 42 \
    --api-key demo-key >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
wait_for "the simulator" test -s "$work/sim.port"
port=$(cat "$work/sim.port")
base="http://127.0.0.1:$port/v2"

cat >"$work/kinsta-opsd.toml" <<TOML
# Demo settings: fast polling, because the simulator's jobs take seconds (and a budget to match).
[kinsta]
requests_per_minute = 6000
request_burst = 100
[daemon]
log_level = "info"
[polling]
# The simulator runs minutes in seconds: the fixed schedule below, not the learning one (priors in minutes).
adaptive = false
startup_window_seconds = 10
first_poll_seconds = 0.5
interval_seconds = 0.5
max_interval_seconds = 2

# Two webhook endpoints; the simulator doubles as the receiver (GET /_sim/webhooks lists what arrived).
[[webhooks]]
name = "ops-standard"
url = "http://127.0.0.1:$port/_sim/webhooks/ops-standard"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

[[webhooks]]
name = "ops-slack"
url = "http://127.0.0.1:$port/_sim/webhooks/ops-slack"
format = "slack"
TOML
chmod 600 "$work/kinsta-opsd.toml"
state=$(curl -fsS "http://127.0.0.1:$port/_sim/state")
field() { python3 -c "import json,sys; s=json.load(sys.stdin); print($1)" <<<"$state"; }
company=$(field 's["company_id"]')
site_to_delete=$(field 's["sites"][0]["id"]')
env_to_clone=$(field 's["sites"][1]["environments"][0]["id"]')
env_to_restore=$(field 's["sites"][1]["environments"][0]["id"]')
backup=$(field 's["sites"][1]["environments"][0]["backups"][0]["id"]')
staging=$(field '[e for e in s["sites"][1]["environments"] if e["name"] == "staging"][0]["id"]')
user=$(field 's["users"][0]["id"]')

echo "==> starting kinsta-opsd against $base" >&2
export KINSTA_OPS_SOCKET="$work/kinsta-opsd.sock"
KINSTA_API_KEY=demo-key KINSTA_API_BASE_URL="$base" KINSTA_COMPANY_ID="$company" \
    KINSTA_OPSD_STATE_DIR="$work/state" KINSTA_OPSD_SOCKET="$KINSTA_OPS_SOCKET" \
    "$bin/kinsta-opsd" --config "$work/kinsta-opsd.toml" 2>"$work/daemon.log" &
daemon_pid=$!
wait_for "the daemon's socket" "$bin/kinsta-ops" health --json >/dev/null 2>&1

ops() { "$bin/kinsta-ops" "$@"; }
echo "==> submitting one job of each of the five original kinds" >&2
ids=()
submit() { local out; out=$(ops submit "$@" --json); ids+=("$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$out")"); echo "   submitted job ${ids[-1]}: $1" >&2; }
submit site.create --display-name "Demo WordPress" --region us-central1 --admin-email admin@example.com \
    --admin-user admin --admin-password-file <(printf 'correct horse battery staple') --site-title "Demo" \
    --woocommerce
submit site.create_plain --display-name "Demo Plain" --region europe-west1
submit site.clone --display-name "Demo Clone" --source-env-id "$env_to_clone"
submit site.delete --site-id "$site_to_delete"
submit backup.restore --target-env-id "$env_to_restore" --backup-id "$backup" --notified-user-id "$user"
echo "==> and what the seeds' Slack bot does (/clear_site_cache, /restart_php_engine), plus a manual backup" >&2
submit cache.clear --environment-id "$staging"
submit php.restart --environment-id "$staging"
submit backup.create --env-id "$staging" --tag "before the plugin update"

echo "==> waiting for each job to reach a final state" >&2
for id in "${ids[@]}"; do ops wait "$id" || true; done

echo "==> one plan (config/examples/release.toml): back up live, push staging onto live, clear live's cache" >&2
echo "    (the clear takes its environment from the push's output; kinsta-ops plan run FILE --wait)" >&2
live=$(field '[e for e in s["sites"][1]["environments"] if e["name"] == "live"][0]["id"]')
site_id=$(field 's["sites"][1]["id"]')
sed -e "s/LIVE_ENV_ID/$live/g" -e "s/STAGING_ENV_ID/$staging/g" -e "s/SITE_ID/$site_id/g" \
    config/examples/release.toml >"$work/release.toml"
ops plan run "$work/release.toml" --wait || true

echo; echo "==> kinsta-ops jobs"; ops jobs
echo; echo "==> the manual backup, in Kinsta's backups list (kinsta-ops backups $staging)"; ops backups "$staging"
echo; echo "==> kinsta-ops history"; ops history -n 1000
echo; echo "==> the daemon's log (one line per state change)"; grep -c "job state changed" "$work/daemon.log" | sed 's/^/   state changes logged: /'
sleep 1  # let the last deliveries land
echo; echo "==> webhooks received (every state change, at both endpoints)"
curl -fsS "http://127.0.0.1:$port/_sim/webhooks" | python3 -c '
import json, sys
received = json.load(sys.stdin)
for name in ("ops-standard", "ops-slack"):
    count = sum(1 for r in received if r["endpoint"] == name)
    print("   %s: %d deliveries" % (name, count))
slack = [r for r in received if r["endpoint"] == "ops-slack"]
if slack:
    print("   last Slack message:", json.loads(slack[-1]["body"])["text"])
'
echo; echo "==> kinsta-ops deliveries (newest 5)"; ops deliveries --limit 5

#!/usr/bin/env bash
# The simulator's own contract check: starts kinsta-sim (built already: $KINSTA_BIN, default .build/debug; this
# script builds nothing), drives every one of the 37 write endpoints that answer an operation_id and every read
# directly with curl (ids from /_sim/state), plus a handful of invalid requests that must be refused 400, waits for
# the operations to end, reads again, dumps /_sim/requests and checks every request and answer against Kinsta's
# OpenAPI file with scripts/contract-check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${KINSTA_BIN:-.build/debug}
export PYTHONDONTWRITEBYTECODE=1  # the mutation round imports contract-check.py; leave no __pycache__ behind
[ -x "$bin/kinsta-sim" ] || { echo "sim-contract: $bin/kinsta-sim is not built" >&2; exit 1; }
[ -x .build/python/bin/python3 ] || scripts/install-deps.sh
# The project's Python test environment first (scripts/install-deps.sh): jsonschema for the contract check.
export PATH="$PWD/.build/python/bin:$PATH"

work=$(mktemp -d /tmp/kinsta-sim-contract.XXXXXX)
sim_pid=""
cleanup() {
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
}
trap cleanup EXIT
key=contract-key
# Three seed sites: the first takes most writes, the second is deleted, the third takes those that must not depend
# on another write of the run (a domain made primary while another is deleted), as operations end in milliseconds.
"$bin/kinsta-sim" --port 0 --port-file "$work/sim.port" --window 0.5 --duration-scale 0.01 --seed 3 --seed-sites 3 \
    --api-key "$key" >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 300); do [ -s "$work/sim.port" ] && break; sleep 0.1; done
[ -s "$work/sim.port" ] || { echo "sim-contract: the simulator did not start" >&2; cat "$work/sim.log" >&2; exit 1; }
port=$(cat "$work/sim.port")
base="http://127.0.0.1:$port/v2"

curl -fsS "http://127.0.0.1:$port/_sim/state" >"$work/state.json"
field() { python3 -c "import json,sys; s=json.load(open('$work/state.json')); print($1)"; }
company=$(field 's["company_id"]')
site=$(field 's["sites"][0]["id"]')
other_site=$(field 's["sites"][1]["id"]')
live=$(field 's["sites"][0]["environments"][0]["id"]')
staging=$(field 's["sites"][0]["environments"][1]["id"]')
other_live=$(field 's["sites"][1]["environments"][0]["id"]')
spare_live=$(field 's["sites"][2]["environments"][0]["id"]')
spare_secondary=$(field '[d["id"] for d in s["sites"][2]["environments"][0]["domains"] if d["id"] != s["sites"][2]["environments"][0]["primary_domain_id"]][0]')
backup=$(field 's["sites"][0]["environments"][0]["backups"][0]["id"]')
other_backup=$(field 's["sites"][1]["environments"][0]["backups"][1]["id"]')
user=$(field 's["users"][0]["id"]')
cdn=$(field 's["sites"][0]["environments"][0]["cdn_cache_id"]')
secondary=$(field '[d["id"] for d in s["sites"][0]["environments"][0]["domains"] if d["id"] != s["sites"][0]["environments"][0]["primary_domain_id"]][0]')
dns=$(field 's["dns_domains"][0]["id"]')
dns_name=$(field 's["dns_domains"][0]["records"][0]["name"]')
sftp=$(field 's["sites"][0]["environments"][0]["sftp_accounts"][0]["id"]')

# call METHOD PATH [BODY]: prints the HTTP status
call() {
    local args=(-sS -o /dev/null -w '%{http_code}' -X "$1" -H "Authorization: Bearer $key" --path-as-is)
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-raw "$3")
    curl "${args[@]}" "$base$2"
}
failures=0
# expect STATUS METHOD PATH [BODY]; an accepted write with a body is kept for the mutation round
expect() {
    local want=$1; shift
    local got
    got=$(call "$@")
    if [ $# -ge 3 ] && [ "${want:0:1}" = 2 ]; then
        printf '{"method":"%s","path":"%s","body":%s}\n' "$1" "$2" "$3" >>"$work/valid.ndjson"
    fi
    if [ "$got" != "$want" ]; then
        echo "sim-contract: $1 $2 answered $got, not $want" >&2
        failures=$((failures + 1))
    fi
}

reads() {
    expect 200 GET /validate
    expect 200 GET "/sites?company=$company"
    expect 200 GET "/sites?company=$company&include_environments=true"
    expect 200 GET "/sites/$site"
    expect 200 GET "/sites/$site/environments"
    for env in "$live" "$other_live" "$spare_live"; do
        for what in backups downloadable-backups plugins themes domains additional-sftp-accounts; do
            expect 200 GET "/sites/environments/$env/$what"
        done
    done
    expect 200 GET "/company/$company/users"
    expect 200 GET "/company/$company/available-regions"
    expect 200 GET "/company/$company/activity-logs?limit=50"
    expect 200 GET "/domains?company=$company"
    expect 200 GET "/domains/$dns/dns-records"
    expect 404 GET "/sites/environments/00000000-0000-4000-8000-000000000000/backups"
}

echo "==> reads before" >&2
reads

echo "==> the 37 writes" >&2
password='pw-Secret-0123456789'
expect 202 POST /sites "{\"company\":\"$company\",\"display_name\":\"Contract WP\",\"region\":\"us-central1\",\"install_mode\":\"new\",\"admin_email\":\"a@example.com\",\"admin_password\":\"$password\",\"admin_user\":\"admin\",\"site_title\":\"T\",\"wp_language\":\"en_US\",\"woocommerce\":false}"
expect 202 POST /sites/plain "{\"company\":\"$company\",\"display_name\":\"Contract Plain\",\"region\":\"europe-west1\"}"
expect 202 POST /sites/clone "{\"company\":\"$company\",\"display_name\":\"Contract Clone\",\"source_env_id\":\"$live\"}"
expect 202 DELETE "/sites/$other_site"
expect 202 POST "/sites/$site/reset-site" "{\"admin_password\":\"$password\"}"
expect 202 POST "/sites/$site/change-site-php-allocation" '{"thread_count":4,"thread_memory":512}'
expect 202 POST "/sites/$site/environments" "{\"display_name\":\"dev\",\"site_title\":\"Dev\",\"is_premium\":false,\"admin_email\":\"a@example.com\",\"admin_password\":\"$password\",\"admin_user\":\"admin\",\"wp_language\":\"en_US\"}"
expect 202 POST "/sites/$site/environments/plain" '{"display_name":"plain-dev","is_premium":false}'
expect 202 POST "/sites/$site/environments/clone" "{\"display_name\":\"clone-dev\",\"is_premium\":true,\"source_env_id\":\"$live\"}"
expect 202 PUT "/sites/$site/environments" "{\"source_env_id\":\"$staging\",\"target_env_id\":\"$live\",\"push_db\":true,\"push_files\":true,\"run_search_and_replace\":true,\"push_files_option\":\"SPECIFIC_FILES\",\"file_list\":[\"wp-content/themes\"]}"
expect 202 DELETE "/sites/environments/$staging"
expect 202 POST "/sites/environments/$live/change-environment-php-allocation" '{"thread_count":2,"thread_memory":256}'
expect 202 POST "/sites/environments/$live/change-webroot-subfolder" '{"web_root_subfolder":"/release_v1","clear_all_cache":true,"refresh_plugins_and_themes":false}'
expect 202 POST "/sites/environments/$live/backups/restore" "{\"backup_id\":$backup,\"notified_user_id\":\"$user\"}"
expect 202 POST "/sites/environments/$live/manual-backups" '{"tag":"contract-check"}'
expect 202 DELETE "/sites/environments/backups/$backup"
expect 202 POST /sites/tools/clear-cache "{\"environment_id\":\"$live\"}"
expect 202 POST /sites/tools/restart-php "{\"environment_id\":\"$live\"}"
expect 202 PUT /sites/tools/modify-php-version "{\"environment_id\":\"$live\",\"php_version\":\"8.3\",\"is_opt_out_from_automatic_php_update\":false}"
expect 202 POST /sites/edge-caching/clear "{\"environment_id\":\"$live\",\"clear_subdirectories\":true,\"url\":\"https://example.com/blog\"}"
expect 202 PUT /sites/edge-caching/status "{\"environment_id\":\"$live\",\"enabled\":true}"
expect 202 POST /sites/cdn/clear-cache "{\"environment_id\":\"$live\",\"cdn_cache_id\":\"$cdn\"}"
expect 202 PUT /sites/cdn/image-optimization "{\"environment_id\":\"$live\",\"image_optimization_type\":\"lossy\"}"
expect 202 POST "/sites/environments/$live/run-wp-cli-command" '{"wp_command":"wp plugin list --status=active"}'
expect 202 POST "/sites/environments/$live/domains" '{"domain_name":"shop.contract.example","is_wildcardless":false}'
expect 202 DELETE "/sites/environments/$live/domains" "{\"domain_ids\":[\"$secondary\"]}"
expect 202 PUT "/sites/environments/$spare_live/change-primary-domain" "{\"domain_id\":\"$spare_secondary\",\"run_search_and_replace\":true}"
expect 202 POST "/domains/$dns/dns-records" '{"type":"A","name":"new.agency.example","ttl":3600,"resource_records":[{"value":"1.1.1.1"}]}'
expect 202 PUT "/domains/$dns/dns-records" "{\"type\":\"A\",\"name\":\"$dns_name\",\"ttl\":600,\"new_resource_records\":[{\"value\":\"2.2.2.2\"}],\"removed_resource_records\":[{\"value\":\"203.0.113.10\"}]}"
expect 202 DELETE "/domains/$dns/dns-records" "{\"type\":\"A\",\"name\":\"$dns_name\"}"
expect 202 PUT "/sites/environments/$live/plugins" '{"name":"akismet","update_version":"5.3"}'
expect 200 PUT "/sites/environments/$live/plugins/bulk-update" '{"plugins":[{"name":"akismet"},{"name":"wordpress-seo"}]}'
expect 202 PUT "/sites/environments/$live/themes" '{"name":"twentytwentyfour","update_version":"1.1"}'
expect 200 PUT "/sites/environments/$live/themes/bulk-update" '{"themes":[{"name":"twentytwentyfour"}]}'
expect 200 POST "/sites/environments/$live/additional-sftp-accounts" '{"username":"contract","password":"R8zXwT@#bV!kJq9^xyz","root_directory":"/dir_1","permission":"write"}'
expect 202 PUT "/sites/environments/$live/additional-sftp-accounts/toggle-status" '{"enabled":true}'
expect 202 DELETE "/sites/environments/additional-sftp-accounts/$sftp"

echo "==> invalid requests (each must be refused 400)" >&2
expect 400 POST /sites/tools/clear-cache '{}'
expect 400 POST "/sites/environments/$other_live/backups/restore" "{\"backup_id\":\"$other_backup\",\"notified_user_id\":\"$user\"}"
expect 400 POST "/sites/environments/$other_live/backups/restore" "{\"backup_id\":$other_backup,\"notified_user_id\":\"not-a-uuid\"}"
expect 400 POST /domains/not-a-uuid/dns-records '{"type":"A","name":"a","ttl":300,"resource_records":[{"value":"1.1.1.1"}]}'
expect 400 POST /sites/environments/env-1/run-wp-cli-command '{"wp_command":"wp core version"}'
expect 400 PUT /sites/cdn/image-optimization "{\"environment_id\":\"$other_live\",\"image_optimization_type\":\"medium\"}"
expect 400 PUT /sites/edge-caching/status "{\"environment_id\":\"$other_live\",\"enabled\":\"yes\"}"
expect 400 POST /sites/plain "{\"company\":\"$company\",\"display_name\":\"Mars\",\"region\":\"mars-north1\"}"

echo "==> mutations of every accepted body (a required field dropped, a field of another type): each must be refused" >&2
python3 - "$work/valid.ndjson" "$base" "$key" <<'PY' || failures=$((failures + 1))
import importlib.util, json, sys, urllib.error, urllib.request
spec_loader = importlib.util.spec_from_file_location("contract_check", "scripts/contract-check.py")
check = importlib.util.module_from_spec(spec_loader)
spec_loader.loader.exec_module(check)
spec = check.load_spec(check.DEFAULT_OPENAPI)
ops = check.templates(spec)
calls = [json.loads(line) for line in open(sys.argv[1])]
base, key = sys.argv[2], sys.argv[3]

def required(schema):
    schema = check.resolve(spec, schema)
    names = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        names |= required(part)
    return names

def send(method, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code

def wrong(value):
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return "1"
    if isinstance(value, str):
        return 12345
    return "not an array or object"

sent = accepted = 0
for call in calls:
    template = check.find_operation(ops, call["method"], call["path"])
    operation = spec["paths"][template][call["method"].lower()]
    schema = check.schema_of(spec, check.resolve(spec, operation.get("requestBody")))
    mutations = [{k: v for k, v in call["body"].items() if k != name} for name in sorted(required(schema))]
    mutations += [dict(call["body"], **{name: wrong(value)}) for name, value in sorted(call["body"].items())]
    for body in mutations:
        sent += 1
        status = send(call["method"], call["path"], body)
        if status != 400:
            accepted += 1
            print(f"sim-contract: {call['method']} {template} answered {status} to {json.dumps(body)}", file=sys.stderr)
print(f"mutations sent: {sent}; not refused with 400: {accepted}", file=sys.stderr)
sys.exit(1 if accepted or sent < 100 else 0)
PY

echo "==> waiting for the operations to end" >&2
for _ in $(seq 1 300); do
    running=$(curl -fsS "http://127.0.0.1:$port/_sim/operations" |
        python3 -c 'import json,sys; print(sum(o["state"] in ("invisible","running") for o in json.load(sys.stdin)))')
    [ "$running" = 0 ] && break
    sleep 0.1
done
[ "$running" = 0 ] || { echo "sim-contract: $running operations still running" >&2; failures=$((failures + 1)); }
curl -fsS "http://127.0.0.1:$port/_sim/operations" >"$work/operations.json"
for id in $(python3 -c 'import json,sys; print(" ".join(o["operation_id"] for o in json.load(open(sys.argv[1]))))' "$work/operations.json"); do
    expect 200 GET "/operations/$id"
done
expect 404 GET "/operations/cache:clear-00000000-0000-4000-8000-000000000000"

echo "==> reads after" >&2
other_live=$spare_live  # the second site is gone now
reads
# The effects are there: the tagged manual backup, the new environments, the added domain
curl -fsS "http://127.0.0.1:$port/_sim/state" >"$work/state-after.json"
python3 - "$work/state-after.json" <<'PY' || failures=$((failures + 1))
import json, sys
s = json.load(open(sys.argv[1]))
site = s["sites"][0]
live = site["environments"][0]
names = [e["display_name"] for e in site["environments"]]
problems = []
if not any(b["type"] == "manual" and b["note"] == "contract-check" for b in live["backups"]):
    problems.append("no manual backup tagged contract-check")
for name in ("dev", "plain-dev", "clone-dev"):
    if name not in names:
        problems.append(f"no environment {name}")
if "Staging" in names:
    problems.append("the deleted staging environment is still there")
if not any(d["name"] == "shop.contract.example" for d in live["domains"]):
    problems.append("the added domain is missing")
if len(s["sites"]) != 5:
    problems.append(f"{len(s['sites'])} sites, not 5 (3 seeds - 1 deleted + 3 new)")
spare = s["sites"][1]["environments"][0]  # the third seed site, now second
if spare["primaryDomain"]["id"] == spare["domains"][0]["id"]:
    problems.append("the primary domain did not change")
for p in problems:
    print("sim-contract: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

curl -fsS "http://127.0.0.1:$port/_sim/requests" >"$work/requests.json"
echo "==> contract check of $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/requests.json") requests" >&2
status=0
python3 scripts/contract-check.py --allow-refused "$work/requests.json" || status=$?
writes=$(python3 -c 'import json,sys; print(len({o["kind"] for o in json.load(open(sys.argv[1]))}))' "$work/operations.json")
echo "write kinds driven: $writes; status mismatches: $failures"
[ "$writes" = 37 ] || { echo "sim-contract: $writes kinds, not 37" >&2; status=1; }
[ "$failures" = 0 ] || status=1
rm -rf "$work"
exit "$status"

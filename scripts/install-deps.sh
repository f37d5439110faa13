#!/usr/bin/env bash
# Installs the system packages the build and the demo need, when missing: libsqlite3-dev (GRDB links the system
# SQLite), libcurl4-openssl-dev (the HTTP client is libcurl), curl and python3 (the demo reads the simulator's state),
# and the Python packages standardwebhooks (the reference verifier in the tests), jsonschema (the contract check
# against Kinsta's OpenAPI file, scripts/contract-check.py), and schemathesis and openapi-spec-validator (the API fuzz
# run against the socket's own description, scripts/api-fuzz.sh).
set -euo pipefail
need=()
for package in libsqlite3-dev libcurl4-openssl-dev curl python3; do
    dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The Standard Webhooks reference verifier, which the webhook tests check real deliveries with.
if ! python3 -c "import standardwebhooks" 2>/dev/null; then
    echo "installing: standardwebhooks (PyPI)" >&2
    python3 -m pip install -q standardwebhooks 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
fi
# The JSON Schema validator the contract check (scripts/contract-check.py) validates against Kinsta's OpenAPI file with.
if ! python3 -c "import jsonschema" 2>/dev/null; then
    echo "installing: jsonschema (PyPI)" >&2
    python3 -m pip install -q jsonschema 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
fi
# The property-based API tester and the OpenAPI validator of the API fuzz run (scripts/api-fuzz.sh).
for module in schemathesis:schemathesis openapi_spec_validator:openapi-spec-validator; do
    if ! python3 -c "import ${module%%:*}" 2>/dev/null; then
        echo "installing: ${module#*:} (PyPI)" >&2
        python3 -m pip install -q "${module#*:}" 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
    fi
done

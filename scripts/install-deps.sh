#!/usr/bin/env bash
# Installs the system packages the build and the demo need, when missing: libsqlite3-dev (GRDB links the system
# SQLite), libcurl4-openssl-dev (the HTTP client is libcurl), curl and python3 (the demo reads the simulator's state),
# python3-venv where Debian's python3 lacks it; then the Python test tools into .build/python (below).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
packages=(libsqlite3-dev libcurl4-openssl-dev curl python3)
# Debian's python3 makes virtual environments only with python3-venv.
[ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null && packages+=(python3-venv)
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The Python test tools live in a virtual environment the project owns, .build/python, made with the system's own
# python3 (Debian's /usr/bin/python3 where there is one): a stock Debian or Ubuntu refuses `pip install` into its
# Python ("externally-managed-environment", PEP 668). scripts/lib.sh and scripts/test.sh put its bin/ first on PATH,
# and the tests look for its python3 first. The packages: standardwebhooks (the reference verifier the webhook tests
# check real deliveries with), jsonschema (the contract check against Kinsta's OpenAPI file,
# scripts/contract-check.py), schemathesis and openapi-spec-validator (the API fuzz run, scripts/api-fuzz.sh).
venv=.build/python
base=/usr/bin/python3
[ -x "$base" ] || base=$(command -v python3)
if [ ! -x "$venv/bin/python3" ]; then
    echo "creating the Python test environment: $venv (from $base)" >&2
    "$base" -m venv "$venv" || { echo "install-deps: $base -m venv failed (python3-venv missing?)" >&2; exit 1; }
fi
missing=()
for module in standardwebhooks:standardwebhooks jsonschema:jsonschema schemathesis:schemathesis \
    openapi_spec_validator:openapi-spec-validator; do
    "$venv/bin/python3" -c "import ${module%%:*}" 2>/dev/null || missing+=("${module#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing into $venv: ${missing[*]} (PyPI)" >&2
    "$venv/bin/python3" -m pip install -q --disable-pip-version-check "${missing[@]}" >&2 \
        || { echo "install-deps: could not install ${missing[*]} into $venv" >&2; exit 1; }
fi

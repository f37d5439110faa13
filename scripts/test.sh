#!/usr/bin/env bash
# The test command: installs what a new machine lacks, then runs the whole suite (unit, store, client against the
# simulator, engine under a manual clock, and the end-to-end test that spawns the real binaries).
# Only `swift test`: alternating `swift build` and `swift test` rebuilds Hummingbird each time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The project's Python test environment first (the tests look for it too): the reference verifier's python3.
export PATH="$PWD/.build/python/bin:$PATH"
# No test is written with XCTest: --disable-xctest leaves out its empty "Executed 0 tests" summary.
exec swift test --disable-xctest "$@"

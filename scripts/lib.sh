# Sourced by the run scripts: installs what a new machine lacks, then sets $bin to the folder of the built
# executables: $KINSTA_BIN when given (binaries already built, as .ci/run does), else a `swift build` (debug).
scripts/install-deps.sh
# The project's Python test environment first (scripts/install-deps.sh): python3, schemathesis.
export PATH="$PWD/.build/python/bin:$PATH"
if [ -z "${KINSTA_BIN:-}" ]; then
    swift build 2>&1 | grep -E "error|Build complete" | tail -1 >&2
fi
bin=${KINSTA_BIN:-$(swift build --show-bin-path)}

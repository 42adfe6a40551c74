#!/usr/bin/env bash
# The Java wing's unit tests, a part of ci/test.sh: cargo test of the loader (cfg and JVM
# options parsing, finding libjvm). Last line: "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/../../ci/env.sh"

exec bash "$REPO_ROOT/ci/cargo-test-part.sh" "java=$REPO_ROOT/runtimes/java/loader/Cargo.toml"

#!/usr/bin/env bash
# The Rust wing's unit tests beyond the root workspace's (whose cargo test ci/test.sh runs
# first): cargo test of loader-host, the crate the language loaders share. A part of
# ci/test.sh; last line: "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/../../ci/env.sh"

exec bash "$REPO_ROOT/ci/cargo-test-part.sh" "loader-host=$REPO_ROOT/runtimes/rust/loader-host/Cargo.toml"

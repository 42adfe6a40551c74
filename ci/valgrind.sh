#!/usr/bin/env bash
# Memory check: the t/ suite with nginx under valgrind memcheck (tools/tnginx's
# TEST_NGINX_USE_VALGRIND mode, as in Test::Nginx), then a summary of what valgrind reported
# against resty-ffi (ci/valgrind-report.py). Slow: about 5 s per test block.
#
#   bash ci/valgrind.sh                    every t/*.t except VALGRIND_SKIP
#   bash ci/valgrind.sh t/002-call.t ...   only these files
#
# Environment:
#   RESTY_FFI_QUICK=1        skip ci/setup.sh and ci/build.sh
#   TEST_NGINX_SERVER_PORT   default 1995;  TEST_NGINX_SERVROOT  default $VALGRIND_OUT/servroot
#   VALGRIND_OUT             where valgrind.log, tests.out and report.txt go
#                            (default $RESTY_FFI_BUILD/valgrind)
#   VALGRIND_SKIP            .t files left out when no file is named (default below)
#
# Exit status: 0 when valgrind reported no error and no "definitely lost" block whose stacks
# touch the module or a runtime library; 1 otherwise (see report.txt). Blocks that fail
# under valgrind for other reasons (timing) are listed, and do not change the status.
set -euo pipefail
here=$(dirname "$0")
if [ -z "${RESTY_FFI_QUICK:-}" ]; then
    bash "$here/setup.sh"
    bash "$here/build.sh"
fi
. "$here/env.sh"
cd "$REPO_ROOT"
command -v valgrind >/dev/null ||
    die "valgrind not found (ci/packages.txt lists it: run ci/setup.sh)"

# Left out by default, and why (docs/memcheck.md has the numbers):
#  013-reload-quit-load  the nginx under test is an inner nginx the block starts itself,
#                        outside valgrind; the outer one only runs shell commands.
#  02x (Go), 04x (Java)  the Go runtime (its own stacks and heap) and the JVM (JIT code,
#                        its own signal handling) are not valgrind-clean: hundreds to
#                        thousands of reports inside them, valgrind's error limits reached.
#                        Name the files to run them anyway. The Python loader (03x) is clean
#                        and runs.
VALGRIND_SKIP=${VALGRIND_SKIP-"013-reload-quit-load.t 02*.t 04*.t"}

out=${VALGRIND_OUT:-$RESTY_FFI_BUILD/valgrind}
mkdir -p "$out"
rm -f "$out/valgrind.log" "$out/tests.out" "$out/report.txt"

files=()
skipped=()
if [ $# -eq 0 ]; then
    for f in t/*.t; do
        skip=
        for pat in $VALGRIND_SKIP; do
            # shellcheck disable=SC2053
            [[ $(basename "$f") == $pat ]] && skip=1
        done
        if [ -n "$skip" ]; then skipped+=("$f"); else files+=("$f"); fi
    done
else
    files=("$@")
fi
[ ${#files[@]} -gt 0 ] || die "no .t file to run"

# Test::Nginx's memcheck options, plus full source paths (to tell our frames from others)
# and no cap on the number of distinct errors.
export TEST_NGINX_USE_VALGRIND="--tool=memcheck --leak-check=full --keep-debuginfo=yes \
--show-possibly-lost=no --num-callers=100 --error-limit=no --gen-suppressions=all \
--fullpath-after="
export TEST_NGINX_VALGRIND_SUPPRESSIONS=$REPO_ROOT/ci/valgrind.supp
export TEST_NGINX_VALGRIND_LOG=$out/valgrind.log
export TEST_NGINX_SERVER_PORT=${TEST_NGINX_SERVER_PORT:-1995}
export TEST_NGINX_SERVROOT=${TEST_NGINX_SERVROOT:-$out/servroot}
# Blocks without their own `--- timeout`: valgrind makes nginx 10-50x slower.
export TEST_NGINX_TIMEOUT=${TEST_NGINX_TIMEOUT:-30}
export TEST_NGINX_SLEEP=${TEST_NGINX_SLEEP:-0.05}
: >"$TEST_NGINX_VALGRIND_LOG"

log "valgrind: ${#files[@]} file(s), output in $out"
start=$(date +%s)
set +e
RESTY_FFI_QUICK=1 RESTY_FFI_OWN_RUNNER=1 bash "$here/test.sh" "${files[@]}" >"$out/tests.out" 2>&1
tests_rc=$?
python3 "$here/valgrind-report.py" "$TEST_NGINX_VALGRIND_LOG" "$REPO_ROOT" "$LIB_DIR" >"$out/report.txt"
report_rc=$?
set -e
took=$(( $(date +%s) - start ))

echo "== valgrind memcheck over t/ ($took s)"
echo "ran:     ${files[*]}"
[ ${#skipped[@]} -eq 0 ] || echo "skipped: ${skipped[*]} (see VALGRIND_SKIP in ci/valgrind.sh)"
echo "blocks:  $(tail -n 1 "$out/tests.out")"
if [ "$tests_rc" -ne 0 ]; then
    echo "blocks failing under valgrind (functional checks, not memory errors; see $out/tests.out):"
    grep '^not ok' "$out/tests.out" | sed 's/^/  /' || true
fi
if [ "$report_rc" -gt 1 ]; then
    die "valgrind-report.py failed"
fi
cat "$out/report.txt"
if [ "$report_rc" -ne 0 ]; then
    echo "RESULT: valgrind reported errors or leaks from resty-ffi (full log: $TEST_NGINX_VALGRIND_LOG)"
    exit 1
fi
echo "RESULT: no error and no definite leak from the module or the runtimes"

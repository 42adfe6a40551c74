#!/usr/bin/env bash
# The Python wing's build step (run by ci/build.sh): the loader libresty_ffi_python.so
# (loader/, pyo3) into $LIB_DIR, linked against RESTY_FFI_PYTHON (default Debian's
# /usr/bin/python3), and the venv the Python examples and tests use: $RESTY_FFI_BUILD/pyvenv
# with examples/requirements.txt.
# Quiet and fast when nothing changed (cargo is incremental; the venv has a stamp).
set -euo pipefail
. "$(dirname "$0")/../../ci/env.sh"
WING=$REPO_ROOT/runtimes/python

PYTHON=${RESTY_FFI_PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || die "python loader: $PYTHON not found (apt-get install python3-dev python3-venv)"
export PYO3_PYTHON=$PYTHON

cargo build --release --quiet --manifest-path "$WING/loader/Cargo.toml"
mkdir -p "$LIB_DIR"
so=$CARGO_TARGET_DIR/release/libresty_ffi_python.so
cmp -s "$so" "$LIB_DIR/libresty_ffi_python.so" || install -m 0755 "$so" "$LIB_DIR/libresty_ffi_python.so"

venv=$RESTY_FFI_BUILD/pyvenv
req=$WING/examples/requirements.txt
want=$( { "$PYTHON" -c 'import sys; print(sys.version)'; cat "$req"; } | sha256sum | cut -c1-16)
if [ "$(cat "$venv/.resty-ffi-stamp" 2>/dev/null)" != "$want" ]; then
    log "python: making $venv"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    out=$RESTY_FFI_BUILD/pyvenv-pip.log
    if ! "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
            --only-binary=:all: -r "$req" >"$out" 2>&1; then
        tail -n 20 "$out" >&2
        die "python: pip install failed (full output: $out)"
    fi
    echo "$want" >"$venv/.resty-ffi-stamp"
fi

#!/bin/sh
# Build the module crate as a static library for nginx's own build system.
#
# Called from the Makefile rule that ../config appends to objs/Makefile:
#
#   sh ci/nginx-addon-build.sh <nginx source dir> <nginx objs dir> <output .a>
#
# All paths must be absolute. The nginx tree must already be configured: nginx-sys
# runs bindgen over the same headers and objs/ngx_auto_config.h that nginx compiles with.
#
# Environment:
#   CARGO             cargo binary (default: cargo)
#   CARGO_TARGET_DIR  cargo's target dir (default: <objs>/addon/resty_ffi/target)
#   RESTY_FFI_CARGO_FLAGS  extra cargo flags, e.g. "--locked" or "--offline"
#
# The output is replaced only when cargo produced a different archive, so an
# up-to-date crate does not make nginx relink the module.

set -e

if [ $# -ne 3 ]; then
    echo "usage: $0 <nginx source dir> <nginx objs dir> <output .a>" >&2
    exit 2
fi

ngx_src=$1
ngx_objs=$2
out=$3
crate_dir=$(cd "$(dirname "$0")/.." && pwd)

: "${CARGO:=cargo}"
: "${CARGO_TARGET_DIR:=$ngx_objs/addon/resty_ffi/target}"
export CARGO_TARGET_DIR

# nginx's module build writes the ngx_modules table (objs/*_modules.c), so the
# crate's own table (feature "export-modules", on by default) must stay out.
cd "$crate_dir"
NGINX_SOURCE_DIR=$ngx_src NGINX_BUILD_DIR=$ngx_objs \
    "$CARGO" rustc --release --lib --crate-type staticlib --no-default-features \
    --manifest-path "$crate_dir/Cargo.toml" ${RESTY_FFI_CARGO_FLAGS}

lib=$CARGO_TARGET_DIR/release/libngx_http_resty_ffi_module.a

if ! cmp -s "$lib" "$out"; then
    mkdir -p "$(dirname "$out")"
    cp "$lib" "$out.tmp"
    mv -f "$out.tmp" "$out"
fi

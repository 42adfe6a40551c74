# Sourced by the ci/ scripts: where things are built and found.
#
# RESTY_FFI_BUILD   build root outside the checkout (default ~/.cache/resty-ffi); it keeps
#                   the configured nginx tree, the cargo target dir and the built libraries
#                   between runs, so a second run is fast.
# NGINX_SOURCE_DIR / NGINX_BUILD_DIR
#                   a configured nginx or OpenResty tree to build against. Unset: Debian's
#                   nginx-dev tree, configured by ci/setup.sh under $RESTY_FFI_BUILD.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESTY_FFI_BUILD=${RESTY_FFI_BUILD:-$HOME/.cache/resty-ffi}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$RESTY_FFI_BUILD/target}

DEBIAN_NGINX_SRC=/usr/share/nginx/src
DEBIAN_NGINX_TREE=$RESTY_FFI_BUILD/nginx-debian
if [ -z "${NGINX_SOURCE_DIR:-}" ] && [ -z "${NGINX_BUILD_DIR:-}" ]; then
    export NGINX_SOURCE_DIR=$DEBIAN_NGINX_TREE
    export NGINX_BUILD_DIR=$DEBIAN_NGINX_TREE/objs
    USE_DEBIAN_NGINX=1
else
    USE_DEBIAN_NGINX=0
fi

# What the build produces (ci/build.sh) and what nginx loads.
LIB_DIR=$RESTY_FFI_BUILD/lib
MODULE_SO=$LIB_DIR/ngx_http_resty_ffi_module.so
NGINX_MODULES_DIR=${NGINX_MODULES_DIR:-/usr/lib/nginx/modules}
NGINX_BIN=${TEST_NGINX_BINARY:-$(command -v nginx || echo /usr/sbin/nginx)}

# Go and cargo live outside the default PATH on some machines.
for d in /usr/local/go/bin "$HOME/.cargo/bin"; do
    case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH=$d:$PATH ;; esac
done
export PATH

log() { printf '[resty-ffi] %s\n' "$*" >&2; }
die() { printf '[resty-ffi] error: %s\n' "$*" >&2; exit 1; }

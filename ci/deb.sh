#!/usr/bin/env bash
# Builds the Debian package libnginx-mod-http-resty-ffi_<version>_<arch>.deb, laid out the
# way Debian packages its nginx modules (libnginx-mod-http-lua, dh_nginx):
#
#   /usr/lib/nginx/modules/ngx_http_resty_ffi_module.so       the module
#   /usr/share/nginx/modules-available/mod-http-resty-ffi.conf its load_module line
#   /etc/nginx/modules-enabled/60-mod-http-resty-ffi.conf      symlink, made by postinst
#                                   (after 50-mod-http-lua.conf), removed on purge
#   /usr/share/lua/5.1/resty_ffi.lua, resty/ffi.lua, resty/ffi/metrics.lua   on the lua module's default path
#   /usr/include/resty_ffi.h                                    the runtime ABI, for C runtimes
#   /usr/share/doc/libnginx-mod-http-resty-ffi/{copyright,changelog.Debian.gz}
#
# Depends: libnginx-mod-http-lua, lua-resty-core, the nginx-abi-* virtual package of the
# nginx tree the module is built against (nginx-dev's libnginx-mod.abisubstvars, as dh_nginx
# reads it) and the shared libraries dpkg-shlibdeps finds. The maintainer scripts are
# Debian's own dh_nginx snippets (nginx-dev's debhelper autoscripts).
#
# Usage: bash ci/deb.sh        (prints the path of the .deb on stdout; all else on stderr)
# Environment: RESTY_FFI_DEB_REVISION (Debian revision, default 1), DEBFULLNAME/DEBEMAIL
# (Maintainer; default: the author of the last commit).
set -euo pipefail
here=$(dirname "$0")
bash "$here/setup.sh"
. "$here/env.sh"
[ "$NGINX_SOURCE_DIR" = "$DEBIAN_NGINX_TREE" ] ||
    die "a Debian package is built against Debian's nginx (nginx-dev): unset NGINX_SOURCE_DIR/NGINX_BUILD_DIR"
[ -f "$NGINX_BUILD_DIR/ngx_auto_config.h" ] || die "no configured nginx tree at $NGINX_BUILD_DIR (run ci/setup.sh)"

PACKAGE=libnginx-mod-http-resty-ffi
CONF_NAME=mod-http-resty-ffi.conf
CONF_LINK=60-$CONF_NAME
ABI_SUBSTVARS=$DEBIAN_NGINX_SRC/debian/libnginx-mod.abisubstvars
AUTOSCRIPTS=/usr/share/debhelper/autoscripts
OUT=$RESTY_FFI_BUILD/deb
STAGE=$OUT/stage/$PACKAGE

# 1. The module, built exactly as ci/build.sh builds it (same cargo invocation: no rebuild
#    when it is up to date).
cd "$REPO_ROOT"
cargo build --release --workspace --quiet
module=$CARGO_TARGET_DIR/release/libngx_http_resty_ffi_module.so

# 2. Version, maintainer, date (ci/deb-common.sh), and the nginx ABI.
. "$here/deb-common.sh"
[ -f "$ABI_SUBSTVARS" ] || die "$ABI_SUBSTVARS not found (install nginx-dev)"
abi=$(sed -n 's/^nginx:abi=//p' "$ABI_SUBSTVARS")
[ -n "$abi" ] || die "no nginx:abi in $ABI_SUBSTVARS"
if ! dpkg-query -W -f='${Provides}' nginx 2>/dev/null | tr ',' '\n' | grep -qx " *$abi"; then
    log "warning: the installed nginx does not provide $abi: this package will not install here"
fi

# 3. The staged tree.
rm -rf "$OUT/stage"
mkdir -p "$STAGE/DEBIAN" "$STAGE/usr/lib/nginx/modules" "$STAGE/usr/share/nginx/modules-available" \
    "$STAGE/usr/share/lua/5.1/resty" "$STAGE/usr/share/doc/$PACKAGE" "$STAGE/usr/include"
# As dh_strip does for shared libraries.
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
    -o "$STAGE/usr/lib/nginx/modules/ngx_http_resty_ffi_module.so" "$module"
chmod 0644 "$STAGE/usr/lib/nginx/modules/ngx_http_resty_ffi_module.so"
echo "load_module modules/ngx_http_resty_ffi_module.so;" >"$STAGE/usr/share/nginx/modules-available/$CONF_NAME"
install -m 0644 "$REPO_ROOT/lua/resty_ffi.lua" "$STAGE/usr/share/lua/5.1/resty_ffi.lua"
install -m 0644 "$REPO_ROOT/lua/resty/ffi.lua" "$STAGE/usr/share/lua/5.1/resty/ffi.lua"
install -D -m 0644 "$REPO_ROOT/lua/resty/ffi/metrics.lua" "$STAGE/usr/share/lua/5.1/resty/ffi/metrics.lua"
install -m 0644 "$REPO_ROOT/abi/resty_ffi.h" "$STAGE/usr/include/resty_ffi.h"

# Debian's copyright file: this package and the Rust crates linked into the module.
crates=$(deb_crates "$REPO_ROOT/Cargo.toml" ngx_http_resty_ffi_module) || die "cargo tree failed"
deb_copyright "The module statically links these Rust crates (name version: license):
$crates
Apache-2.0: see /usr/share/common-licenses/Apache-2.0." >"$STAGE/usr/share/doc/$PACKAGE/copyright"
deb_changelog "$PACKAGE" >"$STAGE/usr/share/doc/$PACKAGE/changelog.Debian.gz"
chmod 0644 "$STAGE/usr/share/doc/$PACKAGE/"*

# 4. Maintainer scripts: Debian's dh_nginx snippets with this module's conf pair.
for script in postinst prerm postrm; do
    template=$AUTOSCRIPTS/$script-nginx
    [ -f "$template" ] || die "$template not found (it comes with nginx-dev)"
    {
        printf '#!/bin/sh\nset -e\n# Automatically added by dh_nginx (ci/deb.sh)\n'
        sed "s/#NAMES#/$CONF_NAME:$CONF_LINK/g" "$template"
        printf '# End automatically added section\n'
    } >"$STAGE/DEBIAN/$script"
    chmod 0755 "$STAGE/DEBIAN/$script"
done

# 5. Shared-library dependencies, as dh_shlibdeps computes them.
shlibs=$(deb_shlibdeps "$OUT/shlibs" "$STAGE/usr/lib/nginx/modules/ngx_http_resty_ffi_module.so") ||
    die "dpkg-shlibdeps failed (apt-get install dpkg-dev)"
installed_size=$(deb_installed_size "$STAGE")

cat >"$STAGE/DEBIAN/control" <<END
Package: $PACKAGE
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $installed_size
Depends: libnginx-mod-http-lua, lua-resty-core, $abi${shlibs:+, $shlibs}
Recommends: nginx
Section: httpd
Priority: optional
Multi-Arch: foreign
Description: nginx module to call Go, Python, Java, Rust and Node.js from Lua
 resty-ffi lets OpenResty Lua code (lua-nginx-module) call runtime shared
 libraries written in Go, Python, Java, Rust or Node.js without blocking the
 nginx worker: a call is queued to the runtime's threads and the Lua coroutine
 yields until the answer comes back.
 .
 This package contains the dynamic module ngx_http_resty_ffi_module, enabled
 after the Lua module, and the Lua library resty_ffi.
END

deb=$OUT/${PACKAGE}_${VERSION}_$ARCH.deb
rm -f "$OUT/${PACKAGE}_"*.deb
deb_build "$STAGE" "$deb" || die "dpkg-deb failed"
echo "$deb"

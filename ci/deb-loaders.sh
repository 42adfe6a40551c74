#!/usr/bin/env bash
# Builds one Debian package per language loader, next to the module's (ci/deb.sh), with the
# same version; each depends on the module's package and on what its loader needs at run time:
#
#   libnginx-mod-http-resty-ffi-python   /usr/lib/resty-ffi/libresty_ffi_python.so
#       Depends: libpython3.11 (dpkg-shlibdeps; it brings the standard library)
#   libnginx-mod-http-resty-ffi-java     /usr/lib/resty-ffi/libffi_java.so, resty-ffi.jar
#                                        /usr/share/resty-ffi/java/echo.jar, http-client.jar
#       Depends: openjdk-17-jre-headless (the JVM it starts; the loader's default JAVA_HOME)
#   libnginx-mod-http-resty-ffi-nodejs   /usr/lib/resty-ffi/libffi_nodejs.so, libnode.so.108
#       Depends: what libnode.so.108 links (dpkg-shlibdeps), node-cjs-module-lexer, node-undici
#       libnode.so.108 is Debian's (libnode108), shipped beside the loader where its runpath
#       ($ORIGIN only: ci/elf-runpath.py drops the build's directory) finds it: Debian's libnode108 cannot be installed next to a nodejs package
#       from elsewhere (its node-* dependencies want Debian's nodejs), see runtimes/nodejs/build.sh.
#
# A stock nginx.conf loads them by bare name after
#   require("resty.ffi").set_library_path("/usr/lib/resty-ffi")
# Each package: /usr/share/doc/<package>/{copyright,changelog.Debian.gz}. No maintainer
# scripts: nothing to enable (the module's package enables the module).
#
# Usage: bash ci/deb-loaders.sh   (after ci/build.sh; prints the .deb paths on stdout, one a
# line; a loader that was not built is skipped with a note on stderr)
set -euo pipefail
here=$(dirname "$0")
. "$here/env.sh"
cd "$REPO_ROOT"
. "$here/deb-common.sh"

MODULE_PACKAGE=libnginx-mod-http-resty-ffi
OUT=$RESTY_FFI_BUILD/deb
LIBDIR=usr/lib/resty-ffi
SHAREDIR=usr/share/resty-ffi

# stage_start PACKAGE: a fresh staging tree for PACKAGE (its path in $STAGE).
stage_start() {
    STAGE=$OUT/stage-loaders/$1
    rm -rf "$STAGE"
    mkdir -p "$STAGE/DEBIAN" "$STAGE/$LIBDIR" "$STAGE/usr/share/doc/$1"
}

# stage_lib FILE: FILE into /usr/lib/resty-ffi, stripped as dh_strip strips a shared library.
stage_lib() {
    local dest=$STAGE/$LIBDIR/$(basename "$1")
    strip --remove-section=.comment --remove-section=.note --strip-unneeded -o "$dest" "$1"
    chmod 0644 "$dest"
}

# stage_finish PACKAGE DEPENDS SHORT LONG [RECOMMENDS]: docs, control, .deb (its path on stdout).
stage_finish() {
    local package=$1 depends=$2 short=$3 long=$4 recommends=${5:-}
    deb_changelog "$package" >"$STAGE/usr/share/doc/$package/changelog.Debian.gz"
    chmod 0644 "$STAGE/usr/share/doc/$package/"*
    cat >"$STAGE/DEBIAN/control" <<END
Package: $package
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $(deb_installed_size "$STAGE")
Depends: $MODULE_PACKAGE (= $VERSION), $depends
${recommends:+Recommends: $recommends
}Section: httpd
Priority: optional
Multi-Arch: foreign
Description: $short
$(sed 's/^/ /' <<<"$long")
END
    local deb=$OUT/${package}_${VERSION}_$ARCH.deb
    rm -f "$OUT/${package}_"*.deb
    deb_build "$STAGE" "$deb" || die "dpkg-deb failed for $package"
    echo "$deb"
}

copyright_of() {   # MANIFEST CRATE: the copyright file of a loader crate
    local crates
    crates=$(deb_crates "$1" "$2") || die "cargo tree failed for $1"
    deb_copyright "The loader statically links these Rust crates (name version: license):
$crates
Apache-2.0: see /usr/share/common-licenses/Apache-2.0."
}

# ---- Python
python_deb() {
    local p=$MODULE_PACKAGE-python shlibs
    stage_start "$p"
    stage_lib "$LIB_DIR/libresty_ffi_python.so"
    copyright_of runtimes/python/loader/Cargo.toml resty_ffi_python >"$STAGE/usr/share/doc/$p/copyright"
    shlibs=$(deb_shlibdeps "$OUT/shlibs-python" "$STAGE/$LIBDIR/libresty_ffi_python.so") ||
        die "dpkg-shlibdeps failed for the Python loader"
    # (libpython3.11 brings the standard library: libpython3.11-stdlib.)
    stage_finish "$p" "$shlibs" \
        "resty-ffi loader for Python runtimes" \
        "Lets resty-ffi (libnginx-mod-http-resty-ffi) call Python code from OpenResty
Lua: the loader embeds Debian's Python interpreter in each nginx worker.
.
Load it with require(\"resty.ffi\").set_library_path(\"/usr/lib/resty-ffi\") and
require(\"resty.ffi\").load(\"resty_ffi_python\", \"module,init,cfg\")."
}

# ---- Java
java_deb() {
    local p=$MODULE_PACKAGE-java shlibs jar
    stage_start "$p"
    stage_lib "$LIB_DIR/libffi_java.so"
    install -m 0644 "$LIB_DIR/resty-ffi.jar" "$STAGE/$LIBDIR/resty-ffi.jar"
    mkdir -p "$STAGE/$SHAREDIR/java"
    for jar in echo.jar http-client.jar; do
        install -m 0644 "$RESTY_FFI_BUILD/java/$jar" "$STAGE/$SHAREDIR/java/$jar"
    done
    copyright_of runtimes/java/loader/Cargo.toml resty_ffi_java >"$STAGE/usr/share/doc/$p/copyright"
    shlibs=$(deb_shlibdeps "$OUT/shlibs-java" "$STAGE/$LIBDIR/libffi_java.so") ||
        die "dpkg-shlibdeps failed for the Java loader"
    stage_finish "$p" "$shlibs, openjdk-17-jre-headless" \
        "resty-ffi loader for Java runtimes" \
        "Lets resty-ffi (libnginx-mod-http-resty-ffi) call Java classes from OpenResty
Lua: the loader starts a JVM (Debian's OpenJDK 17, or JAVA_HOME) in each nginx
worker. resty-ffi.jar, the Java API, is beside the loader; the examples
echo.jar and http-client.jar are in /usr/share/resty-ffi/java.
.
Load it with require(\"resty.ffi\").set_library_path(\"/usr/lib/resty-ffi\") and
require(\"resty.ffi\").load(\"ffi_java\", \"class,method,cfg\"), the class path
set with \`env CLASSPATH=...;\` in nginx.conf."
}

# ---- Node.js
nodejs_deb() {
    local p=$MODULE_PACKAGE-nodejs libnode shlibs
    libnode=$(find "$RESTY_FFI_BUILD/libnode" -name 'libnode.so.108' 2>/dev/null | head -n 1)
    [ -n "$libnode" ] || die "libnode.so.108 not found under $RESTY_FFI_BUILD/libnode (runtimes/nodejs/build.sh unpacks it)"
    stage_start "$p"
    stage_lib "$LIB_DIR/libffi_nodejs.so"
    # Its runpath is $ORIGIN and the build's libnode directory: only $ORIGIN is kept.
    python3 "$here/elf-runpath.py" "$STAGE/$LIBDIR/libffi_nodejs.so" '$ORIGIN' >/dev/null ||
        die "cannot set the runpath of libffi_nodejs.so"
    install -m 0644 "$(readlink -f "$libnode")" "$STAGE/$LIBDIR/libnode.so.108"
    {
        copyright_of runtimes/nodejs/loader/Cargo.toml resty_ffi_nodejs
        echo
        echo "Files: usr/lib/resty-ffi/libnode.so.108"
        echo "Comment: Debian's libnode108 $(cat "$RESTY_FFI_BUILD/libnode/.version" 2>/dev/null), unchanged; its"
        echo " copyright file follows."
        echo
        cat "$RESTY_FFI_BUILD/libnode/usr/share/doc/libnode108/copyright"
    } >"$STAGE/usr/share/doc/$p/copyright"
    # libnode.so.108 is this package's own: its dependencies are the ones that count.
    shlibs=$(deb_shlibdeps "$OUT/shlibs-nodejs" --ignore-missing-info \
        "$STAGE/$LIBDIR/libffi_nodejs.so" "$STAGE/$LIBDIR/libnode.so.108") ||
        die "dpkg-shlibdeps failed for the Node.js loader"
    stage_finish "$p" "$shlibs, node-cjs-module-lexer, node-undici" \
        "resty-ffi loader for Node.js runtimes" \
        "Lets resty-ffi (libnginx-mod-http-resty-ffi) call JavaScript from OpenResty
Lua: the loader embeds Node.js 18 (Debian's libnode, shipped beside it) in each
nginx worker.
.
Load it with require(\"resty.ffi\").set_library_path(\"/usr/lib/resty-ffi\") and
require(\"resty.ffi\").load(\"ffi_nodejs\", \"/path/to/file.js,init,cfg\")." \
        node-acorn
}

for lang in python java nodejs; do
    case $lang in
    python) need=$LIB_DIR/libresty_ffi_python.so ;;
    java) need=$LIB_DIR/libffi_java.so ;;
    nodejs) need=$LIB_DIR/libffi_nodejs.so ;;
    esac
    if [ ! -f "$need" ]; then
        log "no $(basename "$need") (ci/build.sh builds it): no $MODULE_PACKAGE-$lang package"
        continue
    fi
    "${lang}_deb"
done

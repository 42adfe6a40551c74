#!/usr/bin/env bash
# The Debian packages, end to end: build the module's (ci/deb.sh), `apt-get install ./<deb>`,
# run Debian's /usr/sbin/nginx with a config whose only module lines are
# `include /etc/nginx/modules-enabled/*.conf;` (no lua_package_path: resty_ffi must be on the
# default path), call the Rust echo runtime, stop nginx. Then `make install` (ci/install.sh)
# into /usr/local and the Python, Node.js and Java loaders by bare name with nginx's default
# user; then the loaders' packages (ci/deb-loaders.sh) installed with apt, each loader called
# with the default user, and purged. Last `apt-get remove` and `apt-get purge` of the module's
# package, and checks that nothing of any package is left.
#
# One line per check (`ok N - ...` / `not ok N - ...`), then `N passed, N failed`.
# Never writes the machine's /etc, /usr or /var: it runs in a mount namespace of its own
# where they are overlays on throwaway directories (root and overlayfs needed; without them
# it does not run and says so). Inside, the package is purged at the end, also on failure.
#
# Environment: RESTY_FFI_DEB_TEST_PORT (default 20200).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

PACKAGE=libnginx-mod-http-resty-ffi
PORT=${RESTY_FFI_DEB_TEST_PORT:-20200}
PREFIX=$RESTY_FFI_BUILD/deb-test
ENABLED_LINK=/etc/nginx/modules-enabled/60-mod-http-resty-ffi.conf
AVAILABLE_CONF=/usr/share/nginx/modules-available/mod-http-resty-ffi.conf
DEBIAN_NGINX=/usr/sbin/nginx
APT=(apt-get -y -qq -o DPkg::Lock::Timeout=300)
export DEBIAN_FRONTEND=noninteractive

passed=0 failed=0 n=0
check() {   # description, command...
    local what=$1
    shift
    n=$((n + 1))
    if "$@" >>"$PREFIX/checks.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok $n - $what"
    else
        failed=$((failed + 1))
        echo "not ok $n - $what (see $PREFIX/checks.log)"
    fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

if [ "$(id -u)" != 0 ]; then
    echo "not ok 1 - needs root to install the package"
    failed=1
    finish
fi

# The test installs, removes and purges the package with apt, which writes /etc, /usr and
# /var. It does so in a mount namespace of its own where those three are overlays on
# throwaway directories under $RESTY_FFI_BUILD: the machine's own /etc, /usr and /var are
# never written, and the sandbox is deleted afterwards.
if [ -z "${RESTY_FFI_DEB_SANDBOX:-}" ]; then
    sandbox=$RESTY_FFI_BUILD/deb-sandbox
    rm -rf "$sandbox"
    mkdir -p "$sandbox"/{etc,usr,var}-{upper,work} "$sandbox/probe"/{upper,work}
    if ! unshare --mount --propagation private mount -t overlay overlay \
        -o "lowerdir=/etc,upperdir=$sandbox/probe/upper,workdir=$sandbox/probe/work" /etc 2>/dev/null; then
        rm -rf "$sandbox"
        # No mount namespace with overlays here: the test would have to write the machine's
        # /etc, so it does not run.
        log "package test skipped: it needs a mount namespace with overlayfs (unshare -m, root) so that it never writes /etc, /usr or /var"
        echo "0 passed, 0 failed"
        exit 0
    fi
    # shellcheck disable=SC2016
    RESTY_FFI_DEB_SANDBOX=$sandbox unshare --mount --propagation private bash -c '
        for d in etc usr var; do
            mount -t overlay overlay \
                -o "lowerdir=/$d,upperdir=$RESTY_FFI_DEB_SANDBOX/$d-upper,workdir=$RESTY_FFI_DEB_SANDBOX/$d-work" \
                "/$d" || { echo "not ok 1 - overlay on /$d"; echo "0 passed, 1 failed"; exit 1; }
        done
        exec bash "$0"' "$0"
    rc=$?
    rm -rf "$sandbox"
    exit "$rc"
fi

# System-wide state: one run at a time on this machine.
exec 9>/run/lock/resty-ffi-deb-test.lock
flock -w 900 9 || { echo "not ok 1 - another deb test holds /run/lock/resty-ffi-deb-test.lock"; failed=1; finish; }

rm -rf "$PREFIX"
mkdir -p "$PREFIX/conf" "$PREFIX/logs" "$PREFIX/tmp"
: >"$PREFIX/checks.log"

installed_before=$(dpkg-query -W -f='${Status} ${Version}' "$PACKAGE" 2>/dev/null | sed -n 's/^install ok installed //p')
[ -n "$installed_before" ] &&
    log "note: $PACKAGE $installed_before was installed before this test; it is replaced by the built package, and reinstalled from it at the end"

nginx_pid() { cat "$PREFIX/logs/nginx.pid" 2>/dev/null; }
stop_nginx() {
    local pid i
    pid=$(nginx_pid) || return 0
    kill -QUIT "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    return 1
}
package_status() { dpkg-query -W -f='${db:Status-Status}' "$PACKAGE" 2>/dev/null; }
package_gone() { local s; s=$(package_status); [ -z "$s" ] || [ "$s" = not-installed ]; }
cleanup() {
    stop_nginx
    local p left=()
    for p in "$PACKAGE-python" "$PACKAGE-java" "$PACKAGE-nodejs" "$PACKAGE"; do
        PACKAGE=$p package_gone || left+=("$p")
    done
    [ "${#left[@]}" = 0 ] || "${APT[@]}" purge "${left[@]}" >>"$PREFIX/checks.log" 2>&1
    if [ -n "$installed_before" ] && [ -n "${deb:-}" ]; then
        "${APT[@]}" install "$deb" >>"$PREFIX/checks.log" 2>&1 ||
            log "warning: could not reinstall $PACKAGE (it was installed before the test)"
    fi
}
trap cleanup EXIT

# What the checks look at.
deb_has_depends() {   # deb, package...: each package is an item of Depends
    local depends=", $(dpkg-deb -f "$1" Depends),"
    shift
    for p in "$@"; do
        [ -n "$p" ] && [[ $depends == *", $p,"* ]] || { echo "no $p in Depends"; return 1; }
    done
}
installed_files_present() {
    test -f /usr/lib/nginx/modules/ngx_http_resty_ffi_module.so &&
        test -f /usr/share/lua/5.1/resty_ffi.lua &&
        test -f /usr/share/lua/5.1/resty/ffi.lua &&
        test -f /usr/share/lua/5.1/resty/ffi/metrics.lua &&
        test -f /usr/include/resty_ffi.h &&
        grep -qx 'load_module modules/ngx_http_resty_ffi_module.so;' "$AVAILABLE_CONF"
}
enabled_after_lua() {
    [ "$(readlink "$ENABLED_LINK")" = "$AVAILABLE_CONF" ] || return 1
    # nginx includes modules-enabled/*.conf in name order: lua's load_module line first.
    local order
    order=$(cd /etc/nginx/modules-enabled && ls | grep -e '-mod-http-lua\.conf$' -e '-mod-http-resty-ffi\.conf$' | tr '\n' ' ')
    [ "$order" = "50-mod-http-lua.conf 60-mod-http-resty-ffi.conf " ] || { echo "order: $order"; return 1; }
}
none_left() {   # path...: none exists (not even as a dangling symlink)
    local f
    for f in "$@"; do
        if [ -e "$f" ] || [ -L "$f" ]; then
            echo "left behind: $f"
            return 1
        fi
    done
}
no_errors_logged() { ! grep -E '\[(error|crit|alert|emerg)\]' "$PREFIX/logs/error.log"; }

# 1. Build.
deb=$(bash "$here/deb.sh" 2>>"$PREFIX/checks.log")
arch=$(dpkg --print-architecture)
check "ci/deb.sh builds ${PACKAGE}_<version>_$arch.deb" \
    bash -c '[[ -f $1 && $(basename "$1") == '"${PACKAGE}_*_$arch.deb"' ]]' _ "$deb"
[ -f "${deb:-}" ] || finish
abi=$(sed -n 's/^nginx:abi=//p' "$DEBIAN_NGINX_SRC/debian/libnginx-mod.abisubstvars")
check "Depends: libnginx-mod-http-lua, ${abi:-<no nginx:abi in nginx-dev>}" \
    deb_has_depends "$deb" libnginx-mod-http-lua "$abi"

# 2. Install the package.
check "apt-get install ./$(basename "$deb")" "${APT[@]}" install --no-install-recommends "$deb"
check "dpkg: $PACKAGE installed" test "$(package_status)" = installed
check "module, its load_module line, resty_ffi.lua and resty/ffi.lua installed" installed_files_present
check "postinst: $ENABLED_LINK -> $AVAILABLE_CONF, after 50-mod-http-lua.conf" enabled_after_lua

# 3. Debian's nginx with the enabled modules only. No -p: `load_module modules/...` in
#    modules-enabled resolves against Debian's compiled-in prefix, as in production; every
#    file nginx writes is under $PREFIX. Workers run as Debian's stock user (www-data), and
#    the runtime is installed where a user would put one (world-readable, under /usr/local).
RUNTIME_DIR=/usr/local/lib/resty-ffi-deb-test
install -D -m 0644 "$LIB_DIR/libffi_echo.so" "$RUNTIME_DIR/libffi_echo.so"
cat >"$PREFIX/conf/nginx.conf" <<END
include /etc/nginx/modules-enabled/*.conf;
user www-data;
worker_processes 1;
pid $PREFIX/logs/nginx.pid;
error_log $PREFIX/logs/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $PREFIX/tmp/body;
    proxy_temp_path $PREFIX/tmp/proxy;
    fastcgi_temp_path $PREFIX/tmp/fastcgi;
    uwsgi_temp_path $PREFIX/tmp/uwsgi;
    scgi_temp_path $PREFIX/tmp/scgi;
    init_worker_by_lua_block {
        require "resty_ffi"
        require("resty.ffi").set_library_path("$RUNTIME_DIR")
    }
    server {
        listen 127.0.0.1:$PORT;
        location = /echo {
            content_by_lua_block {
                local rt, err = ngx.load_ffi("ffi_echo", "echo: ")
                if not rt then
                    ngx.say("load_ffi failed: ", err)
                    return
                end
                local ok, res = rt:echo(ngx.var.arg_msg)
                ngx.say(ok, " ", res, " live=", require("resty_ffi").live_tasks())
            }
        }
    }
}
END
nginx_args=(-c "$PREFIX/conf/nginx.conf" -e "$PREFIX/logs/error.log")
check "nginx -t" "$DEBIAN_NGINX" -t "${nginx_args[@]}"
check "Debian's nginx starts on 127.0.0.1:$PORT" "$DEBIAN_NGINX" "${nginx_args[@]}"
answer=$(curl -s -m 10 --retry 20 --retry-connrefused --retry-delay 1 --retry-max-time 30 "http://127.0.0.1:$PORT/echo?msg=hello")
check "echo runtime answers through the packaged module (got: ${answer:-nothing})" \
    test "$answer" = "true echo: hello live=0"
workers_not_root() {
    local pid users
    pid=$(nginx_pid) || return 1
    users=$(ps -o user= --ppid "$pid" | sort -u | tr -d ' ')
    [ "$users" = www-data ]
}
check "workers run as www-data, not root" workers_not_root
check "error.log: no [error] [crit] [alert] [emerg]" no_errors_logged
check "nginx stops (quit)" stop_nginx
rm -rf "$RUNTIME_DIR"

# 4. `make install` (ci/install.sh) puts the loaders in system paths, world-readable: Debian's
#    nginx with its stock user loads the Python, Node.js and Java loaders by bare name from
#    there (Java with the installed example jar on CLASSPATH, set by an `env` line).
LOADER_TEST_DIR=/usr/local/lib/resty-ffi-test
check "ci/install.sh (make install, PREFIX=/usr/local)" env PREFIX=/usr/local bash "$here/install.sh"
loaders_world_readable() {
    local f
    for f in /usr/local/lib/resty-ffi/*; do
        [ "$(stat -c %a "$f")" = 644 ] || { echo "$f: $(stat -c %a "$f")"; return 1; }
    done
    [ "$(stat -c %a /usr/local/lib/resty-ffi)" = 755 ]
}
check "installed loaders are world-readable" loaders_world_readable
runpath_is_origin() {   # file: its RUNPATH is $ORIGIN and nothing else (no build directory)
    local r
    r=$(readelf -d "$1" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]$/\1/p')
    echo "$1: runpath [$r]"
    [ "$r" = '$ORIGIN' ]
}
check "installed Node.js loader: runpath \$ORIGIN only" runpath_is_origin /usr/local/lib/resty-ffi/libffi_nodejs.so
java_examples_world_readable() {
    local f
    for f in /usr/local/share/resty-ffi/java/echo.jar /usr/local/share/resty-ffi/java/http-client.jar; do
        [ "$(stat -c %a "$f")" = 644 ] || { echo "$f: $(stat -c %a "$f" 2>&1)"; return 1; }
    done
    [ "$(stat -c %a /usr/local/share/resty-ffi)" = 755 ] && [ "$(stat -c %a /usr/local/share/resty-ffi/java)" = 755 ]
}
check "installed Java examples are world-readable (share/resty-ffi/java)" java_examples_world_readable
# Debian's JRE (openjdk-17-jre-headless): the JVM the installed Java loader starts.
JAVA_RUNTIME_HOME=/usr/lib/jvm/java-17-openjdk-amd64
install -D -m 0644 "$REPO_ROOT/runtimes/python/examples/echo.py" "$LOADER_TEST_DIR/echo.py"
install -D -m 0644 "$REPO_ROOT/runtimes/nodejs/examples/echo/echo.js" "$LOADER_TEST_DIR/echo.js"
python3 - "$PREFIX/conf/nginx.conf" "$LOADER_TEST_DIR" "$JAVA_RUNTIME_HOME" <<'PY'
import re, sys
path, d, java_home = sys.argv[1], sys.argv[2], sys.argv[3]
conf = open(path).read()
conf = re.sub(r'set_library_path\("[^"]*"\)', 'set_library_path("/usr/local/lib/resty-ffi")', conf)
# The installed loaders by bare name, as a user of the installed package would load them.
conf = conf.replace("""        location = /echo {""", """        location = /py {
            content_by_lua_block {
                local rt, err = require("resty.ffi").load("resty_ffi_python", "%s/echo,init,py: ")
                if not rt then return ngx.say("load failed: ", err) end
                ngx.say(select(2, rt:echo("hello")))
            }
        }
        location = /node {
            content_by_lua_block {
                local rt, err = require("resty.ffi").load("ffi_nodejs", "%s/echo.js,init,node: ")
                if not rt then return ngx.say("load failed: ", err) end
                ngx.say(select(2, rt:echo("hello")))
            }
        }
        location = /java {
            content_by_lua_block {
                local rt, err = require("resty.ffi").load("ffi_java", "demo.echo.App,init,java: ")
                if not rt then return ngx.say("load failed: ", err) end
                ngx.say(select(2, rt:echo("hello")))
            }
        }
        location = /echo {""" % (d, d))
# Java as a user configures it: the class path and the JVM through nginx.conf `env` lines.
conf = conf.replace("worker_processes 1;", """worker_processes 1;
env CLASSPATH=/usr/local/share/resty-ffi/java/echo.jar;
env JAVA_HOME=%s;
env "JAVA_OPTS=-Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1";""" % java_home)
conf = conf.replace("user www-data;", "")   # nginx's compiled-in default user
open(path, "w").write(conf)
PY
check "nginx -t with the installed loaders" "$DEBIAN_NGINX" -t "${nginx_args[@]}"
check "Debian's nginx starts again, default user" "$DEBIAN_NGINX" "${nginx_args[@]}"
answer=$(curl -s -m 30 --retry 20 --retry-connrefused --retry-delay 1 --retry-max-time 30 "http://127.0.0.1:$PORT/py")
check "the installed Python loader answers (got: ${answer:-nothing})" test "$answer" = "py: hello"
answer=$(curl -s -m 30 "http://127.0.0.1:$PORT/node")
check "the installed Node.js loader answers (got: ${answer:-nothing})" test "$answer" = "node: hello"
answer=$(curl -s -m 60 "http://127.0.0.1:$PORT/java")
check "the installed Java loader answers, CLASSPATH and JAVA_HOME from env lines (got: ${answer:-nothing})" \
    test "$answer" = "java: hello"
workers_not_as_root() {
    local pid users
    pid=$(nginx_pid) || return 1
    users=$(ps -o user= --ppid "$pid" | sort -u | tr -d ' ')
    echo "workers run as: $users"
    [ -n "$users" ] && [ "$users" != root ]
}
check "workers run as nginx's compiled-in default user, not root" workers_not_as_root
check "error.log: no [error] [crit] [alert] [emerg]" no_errors_logged
check "nginx stops (quit)" stop_nginx
rm -rf "$LOADER_TEST_DIR" /usr/local/lib/resty-ffi /usr/local/share/resty-ffi

# 5. The loaders' packages (ci/deb-loaders.sh), installed with apt: Debian's nginx with its
#    stock user loads each loader by bare name from /usr/lib/resty-ffi (Java with the JVM the
#    loader finds by itself: no JAVA_HOME line), then apt purges them and nothing is left.
mapfile -t loader_debs < <(bash "$here/deb-loaders.sh" 2>>"$PREFIX/checks.log")
loader_debs_built() {
    local l
    [ "${#loader_debs[@]}" = 3 ] || { echo "built: ${loader_debs[*]}"; return 1; }
    for l in python java nodejs; do
        printf '%s\n' "${loader_debs[@]}" | grep -q "/$PACKAGE-${l}_[^/]*_$arch\.deb$" || { echo "no $l .deb"; return 1; }
    done
}
check "ci/deb-loaders.sh builds $PACKAGE-{python,java,nodejs}_<version>_$arch.deb" loader_debs_built
module_version=$(dpkg-deb -f "$deb" Version)
loader_deb() { printf '%s\n' "${loader_debs[@]}" | grep "/$PACKAGE-${1}_"; }
loader_depends() {
    deb_has_depends "$(loader_deb python)" "$PACKAGE (= $module_version)" "libpython3.11 (>= 3.11.0)" &&
        deb_has_depends "$(loader_deb java)" "$PACKAGE (= $module_version)" openjdk-17-jre-headless &&
        deb_has_depends "$(loader_deb nodejs)" "$PACKAGE (= $module_version)" "libuv1 (>= 1.44.1)" node-undici
}
check "loader packages depend on the module's exact version and on their runtimes" loader_depends
check "apt-get install the three loader packages" "${APT[@]}" install --no-install-recommends "${loader_debs[@]}"
loader_packages=("$PACKAGE-python" "$PACKAGE-java" "$PACKAGE-nodejs")
mapfile -t loader_files < <(for d in "${loader_debs[@]}"; do dpkg-deb -c "$d"; done |
    awk '$1 !~ /^d/ { print substr($6, 2) }')
packaged_loaders_present() {
    local f
    for f in "${loader_files[@]}"; do
        [ -f "$f" ] || { echo "missing: $f"; return 1; }
        [ "$(stat -c %a "$f")" = 644 ] || { echo "$f: $(stat -c %a "$f")"; return 1; }
    done
    [ "$(stat -c %a /usr/lib/resty-ffi)" = 755 ]
}
check "the loaders' ${#loader_files[@]} files installed, world-readable" packaged_loaders_present
check "packaged Node.js loader: runpath \$ORIGIN only" runpath_is_origin /usr/lib/resty-ffi/libffi_nodejs.so
install -D -m 0644 "$REPO_ROOT/runtimes/python/examples/echo.py" "$LOADER_TEST_DIR/echo.py"
install -D -m 0644 "$REPO_ROOT/runtimes/nodejs/examples/echo/echo.js" "$LOADER_TEST_DIR/echo.js"
sed -i -e 's|set_library_path("/usr/local/lib/resty-ffi")|set_library_path("/usr/lib/resty-ffi")|' \
    -e 's|^env CLASSPATH=/usr/local/share/resty-ffi/java/echo.jar;|env CLASSPATH=/usr/share/resty-ffi/java/echo.jar;|' \
    -e '/^env JAVA_HOME=/d' "$PREFIX/conf/nginx.conf"
: >"$PREFIX/logs/error.log"
check "nginx -t with the packaged loaders" "$DEBIAN_NGINX" -t "${nginx_args[@]}"
check "Debian's nginx starts with the packaged loaders, default user" "$DEBIAN_NGINX" "${nginx_args[@]}"
answer=$(curl -s -m 30 --retry 20 --retry-connrefused --retry-delay 1 --retry-max-time 30 "http://127.0.0.1:$PORT/py")
check "the packaged Python loader answers (got: ${answer:-nothing})" test "$answer" = "py: hello"
answer=$(curl -s -m 30 "http://127.0.0.1:$PORT/node")
check "the packaged Node.js loader answers (got: ${answer:-nothing})" test "$answer" = "node: hello"
answer=$(curl -s -m 60 "http://127.0.0.1:$PORT/java")
check "the packaged Java loader answers, no JAVA_HOME set (got: ${answer:-nothing})" test "$answer" = "java: hello"
check "workers run as nginx's compiled-in default user, not root" workers_not_as_root
check "error.log: no [error] [crit] [alert] [emerg]" no_errors_logged
check "nginx stops (quit)" stop_nginx
rm -rf "$LOADER_TEST_DIR"
check "apt-get purge the loader packages" "${APT[@]}" purge "${loader_packages[@]}"
loaders_gone() {
    local p s
    for p in "${loader_packages[@]}"; do
        s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
        [ -z "$s" ] || [ "$s" = not-installed ] || { echo "$p: $s"; return 1; }
    done
}
check "after purge: the loader packages unknown to dpkg" loaders_gone
check "after purge: none of their ${#loader_files[@]} files, no /usr/lib/resty-ffi, no /usr/share/resty-ffi" \
    none_left "${loader_files[@]}" /usr/lib/resty-ffi /usr/share/resty-ffi \
    "/usr/share/doc/$PACKAGE-python" "/usr/share/doc/$PACKAGE-java" "/usr/share/doc/$PACKAGE-nodejs"

# 6. Remove, then purge: Debian moves the symlink aside on remove and deletes it on purge.
mapfile -t files < <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print substr($6, 2) }')
check "apt-get remove" "${APT[@]}" remove "$PACKAGE"
symlink_set_aside() { [ -L "$ENABLED_LINK.removed" ] && none_left "$ENABLED_LINK"; }
check "after remove: its files gone" none_left "${files[@]}"
check "after remove: the symlink moved to $(basename "$ENABLED_LINK").removed (prerm)" symlink_set_aside
check "apt-get purge" "${APT[@]}" purge "$PACKAGE"
check "after purge: unknown to dpkg" package_gone
check "after purge: none of its ${#files[@]} files, no symlink, no doc dir left" \
    none_left "${files[@]}" "$ENABLED_LINK" "$ENABLED_LINK.removed" "/usr/share/doc/$PACKAGE"
finish

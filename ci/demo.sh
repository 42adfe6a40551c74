#!/usr/bin/env bash
# One command for a fresh Debian 12 machine: install what is missing, build, serve the
# demo on 127.0.0.1:20000 and ask it once. Run it again to rebuild and restart.
set -euo pipefail
here=$(dirname "$0")
bash "$here/setup.sh"
bash "$here/build.sh"
. "$here/env.sh"

prefix=$RESTY_FFI_BUILD/demo
mkdir -p "$prefix/logs" "$prefix/conf"
sed -e "s#RESTY_FFI_MODULE#$MODULE_SO#" -e "s#RESTY_FFI_LUA#$REPO_ROOT/lua#" \
    -e "s#RESTY_FFI_USER#$(id -un)#" -e "s#RESTY_FFI_BUILD#$RESTY_FFI_BUILD#g" \
    -e "s#RESTY_FFI_REPO#$REPO_ROOT#g" \
    "$REPO_ROOT/nginx-conf/demo.conf" >"$prefix/conf/nginx.conf"

if [ -f "$prefix/logs/nginx.pid" ]; then
    "$NGINX_BIN" -p "$prefix/" -c conf/nginx.conf -s quit 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$prefix/logs/nginx.pid" ] || break; sleep 0.1; done
fi
LD_LIBRARY_PATH=$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    "$NGINX_BIN" -p "$prefix/" -c conf/nginx.conf
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:20000/echo && break; sleep 0.1; done

log "nginx serves the demo (stop it: $NGINX_BIN -p $prefix/ -c conf/nginx.conf -s quit)"
log "curl http://127.0.0.1:20000/echo"
curl -sS http://127.0.0.1:20000/echo

#!/usr/bin/env bash
# Installs what is missing (Debian packages, as root) and configures the nginx tree the
# module is built against. Idempotent: a second run does nothing.
set -euo pipefail
. "$(dirname "$0")/env.sh"

# The core's Debian packages (ci/packages.txt) and each wing's (runtimes/<lang>/packages.txt),
# one package per line.
APT_PACKAGES=()
for f in "$REPO_ROOT"/ci/packages.txt "$REPO_ROOT"/runtimes/*/packages.txt; do
    [ -f "$f" ] || continue
    while read -r p _; do
        case "$p" in ""|"#"*) ;; *) APT_PACKAGES+=("$p") ;; esac
    done <"$f"
done

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]} (run as root to install them)"
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts nginx on install; the tests and the demo run their own.
    if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx >/dev/null 2>&1 || true; fi
    if [ -f /run/nginx.pid ]; then "$NGINX_BIN" -s quit >/dev/null 2>&1 || true; fi
fi

command -v cargo >/dev/null || die "cargo not found: install Rust >= 1.81 with rustup (https://rustup.rs)"

# Debian's nginx-dev ships the source tree without objs/: configure a copy of it with
# Debian's own flags (conf_flags), as Debian does for third-party modules.
if [ "$USE_DEBIAN_NGINX" = 1 ]; then
    stamp=$DEBIAN_NGINX_TREE/.configured-$(dpkg-query -W -f='${Version}' nginx-dev)
    if [ ! -f "$stamp" ]; then
        log "configuring Debian's nginx tree in $DEBIAN_NGINX_TREE"
        rm -rf "$DEBIAN_NGINX_TREE"
        mkdir -p "$RESTY_FFI_BUILD"
        cp -r "$DEBIAN_NGINX_SRC" "$DEBIAN_NGINX_TREE"
        (
            cd "$DEBIAN_NGINX_TREE"
            # shellcheck disable=SC1091
            . ./conf_flags
            ./configure "${NGX_CONF_FLAGS[@]}" >configure.log 2>&1
        ) || die "configure failed: see $DEBIAN_NGINX_TREE/configure.log"
        touch "$stamp"
    fi
fi

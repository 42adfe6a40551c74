# Sourced by ci/deb.sh (the module's package) and ci/deb-loaders.sh (the loaders' packages):
# what every package of this project shares. Needs ci/env.sh sourced first and the current
# directory in the checkout.
#
# Sets VERSION (Cargo.toml's version + Debian revision RESTY_FFI_DEB_REVISION, default 1),
# ARCH, MAINTAINER (DEBFULLNAME/DEBEMAIL, else the author of the last commit), COMMIT, and
# exports SOURCE_DATE_EPOCH (the last commit's time: dpkg-deb clamps file times to it, so a
# package is reproducible).

upstream_version=$(sed -n '/^\[package\]/,/^\[/ s/^version *= *"\([^"]*\)".*/\1/p' "$REPO_ROOT/Cargo.toml" | head -n 1)
[ -n "$upstream_version" ] || die "no [package] version in Cargo.toml"
VERSION=$upstream_version-${RESTY_FFI_DEB_REVISION:-1}
ARCH=$(dpkg --print-architecture)
if [ -n "${DEBEMAIL:-}" ]; then
    MAINTAINER="${DEBFULLNAME:-resty-ffi maintainers} <$DEBEMAIL>"
else
    MAINTAINER=$(git -C "$REPO_ROOT" log -1 --format='%an <%ae>' 2>/dev/null || true)
    [ -n "$MAINTAINER" ] || MAINTAINER="resty-ffi maintainers <root@localhost>"
fi
COMMIT=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$REPO_ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}

# deb_crates MANIFEST PACKAGE: "name version: license" of each crate PACKAGE links, one a line.
deb_crates() {
    cargo tree --quiet --locked --offline --manifest-path "$1" -p "$2" -e normal --prefix none \
        -f '{p}: {l}' | sed -e 's/ (\*)$//' -e 's/ ([^)]*)//' | grep -v "^$2 " | sort -u
}

# deb_copyright COMMENT: Debian's machine-readable copyright file on stdout; COMMENT (lines)
# goes in the header's Comment field.
deb_copyright() {
    cat <<END
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: resty-ffi
Comment: $(sed '1! s/^/ /' <<<"$1")

Files: *
Copyright: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y) the resty-ffi authors
License: BSD-2-Clause

License: BSD-2-Clause
 Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are met:
 .
 1. Redistributions of source code must retain the above copyright notice,
    this list of conditions and the following disclaimer.
 .
 2. Redistributions in binary form must reproduce the above copyright notice,
    this list of conditions and the following disclaimer in the documentation
    and/or other materials provided with the distribution.
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
 AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
 IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
 ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
 LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
 CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
 SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
 INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
 CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
 ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
 POSSIBILITY OF SUCH DAMAGE.

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
 THE SOFTWARE.
END
}

# deb_changelog PACKAGE: changelog.Debian.gz content (gzipped) on stdout.
deb_changelog() {
    cat <<END | gzip -9n
$1 ($VERSION) unstable; urgency=medium

  * Built from resty-ffi commit $COMMIT by ci/$(basename "$0").

 -- $MAINTAINER  $(date -R -u -d "@$SOURCE_DATE_EPOCH")
END
}

# deb_shlibdeps WORKDIR ARG...: the shlibs:Depends dpkg-shlibdeps computes for its ARGs (files,
# options), as dh_shlibdeps does (it wants a debian/control in WORKDIR).
deb_shlibdeps() {
    local dir=$1
    shift
    rm -rf "$dir"
    mkdir -p "$dir/debian"
    printf 'Source: resty-ffi\n\nPackage: resty-ffi\nArchitecture: any\n' >"$dir/debian/control"
    (cd "$dir" && dpkg-shlibdeps -O "$@" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
}

# deb_build STAGE DEB: md5sums, then dpkg-deb (owner root, xz) of STAGE into DEB.
deb_build() {
    (cd "$1" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$1/DEBIAN/md5sums"
    dpkg-deb --root-owner-group -Zxz --build "$1" "$2" >/dev/null
}

# deb_installed_size STAGE: Installed-Size (KiB) of STAGE's files.
deb_installed_size() {
    du -sk --exclude=DEBIAN "$1" | cut -f1
}

#!/usr/bin/env bash
# The Java wing's build step (run by ci/build.sh): the loader libffi_java.so (loader/) and
# the Java API resty-ffi.jar (api/), both into $LIB_DIR, the examples (javac/jar; jnr-echo
# with Maven) and the test runtimes (into $RESTY_FFI_BUILD/java).
# Quiet and idempotent: each part is rebuilt only when its sources changed.
#
# JDK: $JAVA_HOME if it has javac, else Debian's OpenJDK 17. The loader remembers it as the
# default JVM (a worker's JAVA_HOME, passed with `env JAVA_HOME;`, wins at run time).
set -euo pipefail
. "$(dirname "$0")/../../ci/env.sh"
WING=$REPO_ROOT/runtimes/java

pick_jdk() {
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
        echo "$JAVA_HOME"
        return
    fi
    for d in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/default-java; do
        if [ -x "$d/bin/javac" ]; then
            echo "$d"
            return
        fi
    done
    local javac
    javac=$(command -v javac) || die "no JDK: install openjdk-17-jdk (ci/setup.sh) or set JAVA_HOME"
    dirname "$(dirname "$(readlink -f "$javac")")"
}
JDK=$(pick_jdk)
JAVAC=("$JDK/bin/javac" -nowarn -encoding UTF-8 --release 11)
JAR=$JDK/bin/jar

OUT=$RESTY_FFI_BUILD/java
API_JAR=$LIB_DIR/resty-ffi.jar
mkdir -p "$OUT" "$LIB_DIR"

# stale STAMP PATH...: true when STAMP is missing or any PATH has a newer file.
stale() {
    local stamp=$1
    shift
    [ ! -e "$stamp" ] || [ -n "$(find "$@" -newer "$stamp" -print -quit 2>/dev/null)" ]
}

# compile_dir OUT_DIR CLASSPATH SRC_DIR...: javac every .java under SRC_DIR into a fresh OUT_DIR.
compile_dir() {
    local out=$1 cp=$2
    shift 2
    rm -rf "$out"
    mkdir -p "$out"
    local srcs
    srcs=$(find "$@" -name '*.java' | sort)
    # shellcheck disable=SC2086
    "${JAVAC[@]}" -cp "$cp" -d "$out" $srcs || die "javac failed for $*"
}

# build_jar JAR CLASSPATH SRC_DIR...: the classes of SRC_DIR in JAR, when a source changed.
build_jar() {
    local jar=$1 cp=$2
    shift 2
    stale "$jar" "$@" "$API_JAR" || return 0
    local classes=$OUT/classes/$(basename "$jar" .jar)
    compile_dir "$classes" "$cp" "$@"
    "$JAR" --create --file "$jar.tmp" -C "$classes" . && mv "$jar.tmp" "$jar"
}

# 1. The loader (RESTY_FFI_JAVA_HOME: the JDK it falls back to).
RESTY_FFI_JAVA_HOME=$JDK cargo build --release --quiet --manifest-path "$WING/loader/Cargo.toml"
install -m 0755 "$CARGO_TARGET_DIR/release/libffi_java.so" "$LIB_DIR/libffi_java.so"

# 2. The Java API, next to the loader (which puts it first on the JVM's class path).
if stale "$API_JAR" "$WING/api"; then
    compile_dir "$OUT/classes/resty-ffi" "" "$WING/api"
    "$JAR" --create --file "$API_JAR.tmp" -C "$OUT/classes/resty-ffi" . && mv "$API_JAR.tmp" "$API_JAR"
fi

# 3. Examples on the Java API (javac + jar only).
build_jar "$OUT/echo.jar" "$API_JAR" "$WING/examples/echo/src"
build_jar "$OUT/http-client.jar" "$API_JAR" "$WING/examples/http-client/src"

# 4. The example built with Maven (jnr-ffi from Maven Central; offline once it is cached).
jnr_src=$WING/examples/jnr-echo
jnr_out=$OUT/jnr-echo
if stale "$jnr_out/jnr-echo.jar" "$jnr_src/pom.xml" "$jnr_src/src"; then
    command -v mvn >/dev/null || die "mvn not found: install maven (ci/setup.sh)"
    mvn_args=(-q -B -Dstyle.color=never -f "$jnr_src/pom.xml" "-Dmaven.repo.local=$RESTY_FFI_BUILD/maven-repo"
        "-Dresty.out=$jnr_out" package)
    log=$OUT/maven.log
    if ! JAVA_HOME=$JDK mvn -o "${mvn_args[@]}" >"$log" 2>&1 &&
        ! JAVA_HOME=$JDK mvn "${mvn_args[@]}" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "maven build of $jnr_src failed (full output: $log)"
    fi
    touch "$jnr_out/jnr-echo.jar"
fi

# 5. Test runtimes (test-runtimes/): rtest.* and two versions of a package for the reload test.
tsrc=$WING/test-runtimes
if stale "$OUT/t/.built" "$tsrc" "$API_JAR"; then
    compile_dir "$OUT/t/classes" "$API_JAR" "$tsrc/src"
    compile_dir "$OUT/t/reload-v1" "$API_JAR" "$tsrc/reload-v1"
    compile_dir "$OUT/t/reload-v2" "$API_JAR" "$tsrc/reload-v2"
    touch "$OUT/t/.built"
fi

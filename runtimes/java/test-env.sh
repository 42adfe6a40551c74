# The Java wing's test environment, sourced by ci/test.sh: what t/040-java.t needs from the
# Java build (build.sh).
# CLASSPATH and JAVA_OPTS reach the nginx workers through `env CLASSPATH; env JAVA_OPTS;`.
_java_out=$RESTY_FFI_BUILD/java
export TEST_NGINX_JAVA_RELOAD_DIR=$_java_out/t/reload-live
export TEST_NGINX_JAVA_RELOAD_V1=$_java_out/t/reload-v1
export TEST_NGINX_JAVA_RELOAD_V2=$_java_out/t/reload-v2
mkdir -p "$TEST_NGINX_JAVA_RELOAD_DIR"
for _jdk in "${JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/default-java; do
    if [ -n "$_jdk" ] && [ -f "$_jdk/lib/server/libjvm.so" ]; then
        export TEST_NGINX_JAVA_HOME=$_jdk
        break
    fi
done
export CLASSPATH=$_java_out/t/classes:$TEST_NGINX_JAVA_RELOAD_DIR:$_java_out/echo.jar:$_java_out/http-client.jar:$_java_out/jnr-echo/jnr-echo.jar:$_java_out/jnr-echo/lib/*
# A small JVM per worker: the tests start many nginx instances on 2 cores.
export JAVA_OPTS="-Xmx96m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dresty.test=yes"
unset _java_out _jdk

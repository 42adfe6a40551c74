/* A minimal N-API native addon for t/050-nodejs.t: native addons must find Node's symbols
 * in libnode (built by runtimes/nodejs/build.sh into $RESTY_FFI_BUILD/nodejs/hello.node). */
#include <node_api.h>

static napi_value hello(napi_env env, napi_callback_info info) {
    napi_value text;
    (void) info;
    if (napi_create_string_utf8(env, "hello from a native addon", NAPI_AUTO_LENGTH, &text) != napi_ok) {
        return NULL;
    }
    return text;
}

NAPI_MODULE_INIT() {
    napi_value fn;
    if (napi_create_function(env, "hello", NAPI_AUTO_LENGTH, hello, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, "hello", fn) != napi_ok) {
        return NULL;
    }
    return exports;
}

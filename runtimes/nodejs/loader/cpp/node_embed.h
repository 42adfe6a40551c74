/* The C face of the loader's C++ part: Node's embedder API (node.h) is C++ only. */
#ifndef RESTY_FFI_NODE_EMBED_H
#define RESTY_FFI_NODE_EMBED_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where the C++ part reports what goes wrong: an nginx log level (4 err, 5 warn, ...). */
typedef void (*resty_node_report_fn)(int level, const char *msg, size_t len);

/* The N-API module init of the built-in binding (napi_addon_register_func). */
typedef void *(*resty_node_binding_init_fn)(void *env, void *exports);

/* Starts Node on the calling thread (once per process), registers the binding `name` for
 * process._linkedBinding(), runs `bootstrap` (a script that gets Node's internal `require`)
 * and spins the event loop until it ends. Returns 0 when the loop ended, non-zero when Node
 * could not start; every error went to `report` first. Never throws. */
int resty_node_run(const char *bootstrap, const char *name,
                   resty_node_binding_init_fn binding_init, resty_node_report_fn report);

#ifdef __cplusplus
}
#endif

#endif

/*
 * resty_ffi.h: the contract between ngx_http_resty_ffi_module and the code around it.
 *
 * Part 1 is the runtime ABI: what a runtime library (Go, Rust, C, the Python/Java/Node.js
 * loaders) provides and calls. Its first four functions have the names and semantics of the
 * original lua-resty-ffi, so runtimes written for it work unchanged. Part 2 is the module's
 * interface to its own Lua code (lua/resty/ffi.lua declares exactly these with ffi.cdef; a
 * test checks it): not for runtimes.
 *
 * The module resolves nothing from a runtime but libffi_init; a runtime may link against
 * these functions (they are exported by the module, which nginx loads with RTLD_GLOBAL) or
 * look them up with dlsym(RTLD_DEFAULT, ...).
 */
#ifndef RESTY_FFI_H
#define RESTY_FFI_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

/* ---- Part 1: the runtime ABI ------------------------------------------------------------ */

/*
 * Provided by the runtime. Called once per worker, lib and cfg, on nginx's own thread, with
 * nginx's signals blocked (threads it starts inherit that). cfg is a private NUL-terminated
 * copy (or NULL), freed after the call returns. tq is the runtime's task queue: keep it.
 * Start your threads and return 0; any other value fails the load (an error logged with
 * ngx_http_resty_ffi_log during the call becomes part of load's err). Never call
 * ngx_http_lua_ffi_task_poll from here: on nginx's thread it returns NULL at once.
 */
int libffi_init(char *cfg, void *tq);

/*
 * Blocks until a task is queued and returns it; NULL once the runtime was unloaded and every
 * task queued before the unload was handed out. After NULL, do not use tq again. Any thread
 * but nginx's. A task is an opaque pointer into an address range the module reserved: never
 * dereference it, and it is safe to keep in pointer-typed variables of garbage-collected
 * languages.
 */
void *ngx_http_lua_ffi_task_poll(void *tq);

/*
 * The request bytes of a task (also NUL-terminated), valid until the task is answered; len
 * may be NULL. NULL for a task that is not (or no longer) in the runtime's hands. The runtime
 * may read them; it must not write or free them: a large request is the caller's Lua string
 * itself, lent without a copy and kept alive by the module until the task is answered,
 * however long after its caller stopped waiting.
 */
char *ngx_http_lua_ffi_get_req(void *task, int *len);

/*
 * Answers a task, exactly once, from any thread. rc 0 is success (Lua gets true, rsp), any
 * other rc a failure (Lua gets false, rc, rsp). rsp is malloc()ed by the runtime and freed by
 * the module, or NULL; rsp_len <= 0 with rsp != NULL means rsp is a NUL-terminated string. A
 * second or late answer is freed, counted and logged ("dropped N response(s)"), never
 * delivered. After answering, the task is gone: do not use it.
 */
void ngx_http_lua_ffi_respond(void *task, int rc, char *rsp, int rsp_len);

/*
 * Answer codes. rc 0 is success. Positive rcs are the runtime's own (an HTTP-like status, an
 * errno, anything its callers agree on). Negative rcs from -1 to -99 are reserved for what the
 * SDKs and loaders answer on their own, the same in every language, so that a Lua caller
 * knows what `false, rc` means without knowing the language behind it:
 */
#define RESTY_FFI_RC_ERROR      (-1)  /* an error that carries no code of its own */
#define RESTY_FFI_RC_PANICKED   (-2)  /* the handler panicked, threw or raised */
#define RESTY_FFI_RC_DROPPED    (-3)  /* the task was dropped without an answer */
#define RESTY_FFI_RC_NO_MEMORY  (-4)  /* no memory for the request or the answer */
#define RESTY_FFI_RC_CANCELLED  (-5)  /* the call was cancelled (the module answers it so when
                                         its caller gave up before a runtime took it) */

/* nginx's log levels, for ngx_http_resty_ffi_log. */
#define RESTY_FFI_LOG_EMERG  1
#define RESTY_FFI_LOG_ALERT  2
#define RESTY_FFI_LOG_CRIT   3
#define RESTY_FFI_LOG_ERR    4
#define RESTY_FFI_LOG_WARN   5
#define RESTY_FFI_LOG_NOTICE 6
#define RESTY_FFI_LOG_INFO   7
#define RESTY_FFI_LOG_DEBUG  8

/*
 * Beyond the original: writes msg into nginx's error.log at an nginx level (above) as
 * "[resty_ffi] msg", filtered by error_log. Any thread; never blocks (a flood beyond 4096
 * waiting lines is dropped and counted). len <= 0: msg is a NUL-terminated string. Control
 * bytes and invalid UTF-8 are written as \xHH: one call, one line.
 */
void ngx_http_resty_ffi_log(int level, const char *msg, int len);

/*
 * Beyond the original: blocks like ngx_http_lua_ffi_task_poll, then stores up to max tasks in
 * tasks and returns how many; 0 once unloaded and drained.
 */
int ngx_http_resty_ffi_task_poll_batch(void *tq, void **tasks, int max);

/*
 * Beyond the original: answers a task as ngx_http_lua_ffi_respond does, with a copy of len
 * bytes at rsp, which stay the runtime's (reuse or free them as you like, right away). The
 * module copies them into the task's own buffer, kept from call to call: a small answer then
 * costs no malloc() in the runtime and no free() in the worker (on another thread, where
 * glibc takes the lock of the arena the block came from). rsp NULL: a NULL answer (len is
 * ignored); len 0 with rsp != NULL: the empty string (never a C string: len is exact). Best
 * for answers up to a few KiB; a large one is better handed over malloc()ed, uncopied.
 */
void ngx_http_resty_ffi_respond_copy(void *task, int rc, const char *rsp, size_t len);

/*
 * Beyond the original: deadlines and cancellation. A call's caller may give up on it: its
 * timeout passed, its request ended (client abort, ngx.exit, the end of a timer, a killed
 * light thread's request), or the worker is exiting. A task cancelled before a runtime took
 * it is never handed out (the module answers it RESTY_FFI_RC_CANCELLED). For a task the
 * runtime holds, these tell it, so it can stop working for nobody; answering a cancelled task
 * stays legal and required (the answer is freed). Runtimes that ignore them work unchanged.
 */

/* 1 if the caller gave up on the task (or the handle is no longer current), 0 if it still
 * waits. Any thread; one atomic load. Valid from task_poll until the task is answered. */
int ngx_http_resty_ffi_task_cancelled(void *task);

/* When the caller stops waiting: CLOCK_MONOTONIC in nanoseconds (clock_gettime), 0 if the
 * call has no timeout. Any thread. */
int64_t ngx_http_resty_ffi_task_deadline(void *task);

/* Blocks until tasks this runtime holds (taken, not answered) are cancelled, stores up to max
 * of them in tasks and returns how many; 0 once the runtime is unloaded; -1 on nginx's
 * thread or with bad arguments. Cancellations are kept for a runtime only from its first
 * cancel_poll on: call it from a thread of its own, started in libffi_init. */
int ngx_http_resty_ffi_cancel_poll(void *tq, void **tasks, int max);

/*
 * Beyond the original: streams. A call made with rt:stream_anyname(req) in Lua reads its
 * answer in chunks: the runtime sends them, then answers the task as usual (rc, and last
 * bytes or NULL) to end the stream. The caller's window bounds what is in flight: send
 * waits while the chunks the caller has not read fill it (a chunk larger than the window
 * goes alone). Every send must return before the task is answered.
 */

/* 1 if the task's caller reads the answer as a stream, 0 for a plain call. Any thread. */
int ngx_http_resty_ffi_task_streaming(void *task);

/* Sends a chunk (copied): 0 sent; RESTY_FFI_RC_CANCELLED the caller is gone (stop sending,
 * then answer the task); -1 not a stream task in your hands. Waits while the window is full
 * (never on nginx's thread: -1 there). An empty chunk (len 0) delivers nothing: it only
 * tells whether the caller is still there. */
int ngx_http_resty_ffi_task_send(void *task, const char *buf, size_t len);

/* As ngx_http_resty_ffi_task_send, but 1 instead of waiting when the window is full. */
int ngx_http_resty_ffi_task_try_send(void *task, const char *buf, size_t len);

/*
 * Beyond the original: nginx's shared dictionaries (lua_shared_dict), from any thread
 * (libffi_init's included). A value written here is what ngx.shared.DICT:get() reads in Lua,
 * in every worker, and back: the same zone, its lock and its expiry. A runtime thread reads
 * nginx's cached clock, so an expiry is seen up to one event-loop iteration late. Once the
 * worker is exiting every call fails (-1, NULL) with *err "worker exiting"; the worker waits
 * for calls in progress before it exits.
 */
#define RESTY_FFI_SHDICT_NIL       0   /* value types, as Lua's */
#define RESTY_FFI_SHDICT_BOOLEAN   1
#define RESTY_FFI_SHDICT_NUMBER    3
#define RESTY_FFI_SHDICT_STRING    4
#define RESTY_FFI_SHDICT_SET       0   /* store operations, as ngx.shared.DICT's */
#define RESTY_FFI_SHDICT_ADD       1
#define RESTY_FFI_SHDICT_REPLACE   2
#define RESTY_FFI_SHDICT_SAFE_SET  4   /* no eviction of valid items: "no memory" instead */
#define RESTY_FFI_SHDICT_SAFE_ADD  5

/* The zone of `lua_shared_dict name ...;`, valid for the worker's life; NULL and *err if there
 * is none. err may be NULL in every call below; messages are static strings. */
void *ngx_http_resty_ffi_shdict(const char *name, size_t len, const char **err);

/* 0: *type is NIL (absent or expired), BOOLEAN or NUMBER (in *num), or STRING (a malloc()ed
 * copy in *str of *str_len bytes: free() it); *flags the user flags (flags may be NULL).
 * -1 and *err on error ("empty key", "key too long", ...). */
int ngx_http_resty_ffi_shdict_get(void *dict, const char *key, size_t key_len,
    int *type, char **str, size_t *str_len, double *num, int *flags,
    const char **err);

/* Stores with op (SET, ADD, REPLACE, SAFE_SET, SAFE_ADD) a value of type (NIL deletes):
 * str/str_len for STRING, num for NUMBER and BOOLEAN (0 false); exptime_ms 0: never.
 * 0 stored (*forcible 1 if valid items were evicted for room; forcible may be NULL);
 * 1 not stored, *err "exists" (ADD) or "not found" (REPLACE); -1 *err ("no memory"...). */
int ngx_http_resty_ffi_shdict_store(void *dict, int op, const char *key,
    size_t key_len, int type, const char *str, size_t str_len, double num,
    long exptime_ms, int flags, int *forcible, const char **err);

/* Adds delta to a number: 0 and *value the new value; with has_init a missing key starts at
 * init (expiring after init_ttl_ms, 0: never); 1 and *err "not found" or "not a number";
 * -1 and *err on error. */
int ngx_http_resty_ffi_shdict_incr(void *dict, const char *key, size_t key_len,
    double delta, int has_init, double init, long init_ttl_ms, double *value,
    int *forcible, const char **err);

/* ms a key has left, 0 if it never expires, -1 if it is not there. */
long ngx_http_resty_ffi_shdict_ttl(void *dict, const char *key, size_t key_len);

/* Sets a key's expiry (ms, 0: never): 0 done, 1 not found, -1 bad arguments. */
int ngx_http_resty_ffi_shdict_expire(void *dict, const char *key, size_t key_len,
    long exptime_ms);

/* ---- Part 2: the module's interface to lua/resty/ffi.lua (worker thread only) ----------- */

typedef struct ngx_http_resty_ffi_runtime_s ngx_http_resty_ffi_runtime_t;
typedef struct ngx_http_resty_ffi_task_s ngx_http_resty_ffi_task_t;
typedef struct ngx_http_request_s ngx_http_request_t;
typedef struct ngx_http_lua_sema_s ngx_http_lua_sema_t;

ngx_http_resty_ffi_runtime_t *ngx_http_resty_ffi_load(const char *lib,
    const char *cfg, int max_queue, int flags, unsigned char *err,
    size_t *errlen);
int ngx_http_resty_ffi_unload(ngx_http_resty_ffi_runtime_t *rt);
void ngx_http_resty_ffi_release(ngx_http_resty_ffi_runtime_t *rt);
ngx_http_resty_ffi_task_t *ngx_http_resty_ffi_post(ngx_http_request_t *r,
    ngx_http_resty_ffi_runtime_t *rt, const char *req, size_t len, int lend,
    uint64_t timeout_ms, size_t stream_window, ngx_http_lua_sema_t **psem,
    int *lent, size_t *released, unsigned char *err, size_t *errlen);
int ngx_http_resty_ffi_released(uint64_t *handles, int max);
long ngx_http_resty_ffi_lent_tasks(void);
int ngx_http_resty_ffi_stream_next(ngx_http_resty_ffi_task_t *task,
    const char **chunk, size_t *len);
int ngx_http_resty_ffi_wait_briefly(ngx_http_resty_ffi_task_t *task);
int ngx_http_resty_ffi_result(ngx_http_resty_ffi_task_t *task,
    const char **rsp, size_t *len, int *rc);
void ngx_http_resty_ffi_finish(ngx_http_resty_ffi_task_t *task);
int ngx_http_resty_ffi_abandon(ngx_http_resty_ffi_task_t *task);
long ngx_http_resty_ffi_live_tasks(void);
int ngx_http_resty_ffi_stats(unsigned char *buf, size_t *len);
int ngx_http_resty_ffi_telemetry(int on);

#ifdef __cplusplus
}
#endif

#endif /* RESTY_FFI_H */

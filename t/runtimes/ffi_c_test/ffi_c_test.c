/*
 * A runtime in plain C for the t/ suite, written the way a C user would: one pthread that
 * polls, answers, and returns when task_poll gives NULL (the runtime was unloaded).
 *
 *   echo <bytes>   rc 0, the bytes
 *   hold <bytes>   answered only after task_poll returned NULL (unload)
 *   inits          how many times libffi_init ran in this copy of the library
 *   later <ms>     rc 0 "later", answered after ms by a thread started for the task (one
 *                  that never calls into the module before it answers)
 *   cancel_thread  rc 0 "started": starts a thread (after libffi_init) that waits in
 *                  cancel_poll until the unload, then stays 500 ms in the library's code
 *
 * With unpin, each copy is unmapped after unload, so `inits` starts at 1 again.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resty_ffi.h"

static int inits;

#define MAX_HELD 64

static void respond_copy(void *task, const char *bytes, int len)
{
    char *rsp = malloc(len > 0 ? len : 1);
    if (rsp == NULL) {
        ngx_http_lua_ffi_respond(task, 12, NULL, 0);
        return;
    }
    memcpy(rsp, bytes, len);
    ngx_http_lua_ffi_respond(task, 0, rsp, len);
}

struct later {
    void *task;
    int ms;
};

/* A thread of the runtime's own for one task: sleeps in the library's code, then answers. */
static void *answer_later(void *arg)
{
    struct later l = *(struct later *) arg;
    struct timespec ts = { l.ms / 1000, (l.ms % 1000) * 1000000L };

    free(arg);
    nanosleep(&ts, NULL);
    respond_copy(l.task, "later", 5);
    return NULL;
}

/* A cancellation listener started late; it lingers in the library after the unload. */
static void *listen_cancels(void *tq)
{
    void *tasks[8];
    struct timespec ts = { 0, 500 * 1000000L };

    while (ngx_http_resty_ffi_cancel_poll(tq, tasks, 8) > 0) {
        /* nothing held here is cancellable */
    }
    nanosleep(&ts, NULL);
    return NULL;
}

static void *serve(void *tq)
{
    void *held[MAX_HELD];
    int nheld = 0;
    void *task;

    while ((task = ngx_http_lua_ffi_task_poll(tq)) != NULL) {
        int len = 0;
        char *req = ngx_http_lua_ffi_get_req(task, &len);
        char num[16];

        if (req == NULL) {
            continue;
        }
        if (len >= 5 && memcmp(req, "echo ", 5) == 0) {
            respond_copy(task, req + 5, len - 5);
        } else if (len >= 4 && memcmp(req, "hold", 4) == 0 && nheld < MAX_HELD) {
            held[nheld++] = task;
        } else if (len >= 6 && memcmp(req, "later ", 6) == 0) {
            struct later *l = malloc(sizeof(*l));
            pthread_t t;

            if (l == NULL) {
                ngx_http_lua_ffi_respond(task, 12, NULL, 0);
                continue;
            }
            l->task = task;
            l->ms = atoi(req + 6);
            if (pthread_create(&t, NULL, answer_later, l) != 0) {
                free(l);
                ngx_http_lua_ffi_respond(task, 11, NULL, 0);
                continue;
            }
            pthread_detach(t);
        } else if (len == 13 && memcmp(req, "cancel_thread", 13) == 0) {
            pthread_t t;

            if (pthread_create(&t, NULL, listen_cancels, tq) != 0) {
                ngx_http_lua_ffi_respond(task, 11, NULL, 0);
                continue;
            }
            pthread_detach(t);
            respond_copy(task, "started", 7);
        } else if (len == 5 && memcmp(req, "inits", 5) == 0) {
            respond_copy(task, num, snprintf(num, sizeof(num), "%d", inits));
        } else {
            ngx_http_lua_ffi_respond(task, 22, NULL, 0);
        }
    }
    /* Unloaded: answer what was held back, then leave the library's code for good. */
    while (nheld > 0) {
        respond_copy(held[--nheld], "held", 4);
    }
    return NULL;
}

int libffi_init(char *cfg, void *tq)
{
    pthread_t t;

    (void) cfg;
    inits++;
    if (pthread_create(&t, NULL, serve, tq) != 0) {
        return 1;
    }
    pthread_detach(t);
    return 0;
}

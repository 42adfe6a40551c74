package resty.ffi;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Serves a runtime's calls with a handler, many calls in flight. Each method starts one daemon
 * thread that polls the task queue and returns it; the thread ends after the runtime is
 * unloaded (every call queued before the unload is still answered).
 *
 * <pre>{@code
 * public static int init(String cfg, long tq) {
 *     Server.serve(tq, req -> req, 4);  // echo, on 4 threads
 *     return 0;
 * }
 * }</pre>
 *
 * A handler's exception becomes an error answer ({@code false, -2, "java.lang....: message"}
 * in Lua, -2 being {@link Task#RC_PANICKED}; or the rc and message of a {@link TaskException})
 * and the runtime keeps serving. A call the pool refuses (shut down) answers
 * {@link Task#RC_ERROR}.
 *
 * <p>Each runtime also gets a thread that hears of cancelled calls ({@link
 * TaskQueue#listenForCancels}): when a caller gives up, a {@link Future} returned by an
 * {@link AsyncHandler} (a CompletableFuture) is cancelled, {@link Task#current()} of a running
 * {@link Handler} reads {@link Task#isCancelled()} true, and a call still waiting for a pool
 * thread is not started. A cancelled call that ends with an exception answers
 * {@link Task#RC_CANCELLED}, without logging it (the module throws the answer away).
 */
public final class Server {
    private static final Logger LOG = Logger.getLogger("resty.ffi.Server");
    private static final AtomicInteger RUNTIMES = new AtomicInteger();

    private Server() {
    }

    /**
     * Runs the handler on a pool of {@code threads} daemon threads (shut down after unload).
     */
    public static Thread serve(long tq, Handler handler, int threads) {
        Objects.requireNonNull(handler, "handler");
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1");
        }
        String name = nextName();
        ClassLoader loader = handler.getClass().getClassLoader();
        ExecutorService pool = Executors.newFixedThreadPool(threads, daemonThreads(name + "-worker-", loader));
        return poll(queue(tq, name, loader), name, loader, task -> submit(pool, task, handler), pool::shutdown);
    }

    /** Runs the handler on the caller's executor (left running after unload). */
    public static Thread serve(long tq, Handler handler, Executor executor) {
        Objects.requireNonNull(handler, "handler");
        Objects.requireNonNull(executor, "executor");
        ClassLoader loader = handler.getClass().getClassLoader();
        String name = nextName();
        return poll(queue(tq, name, loader), name, loader, task -> submit(executor, task, handler), () -> {
        });
    }

    /**
     * Calls the handler on the polling thread; it starts the work and returns a stage, and the
     * call is answered when the stage completes (on whatever thread completes it).
     */
    public static Thread serveAsync(long tq, AsyncHandler handler) {
        Objects.requireNonNull(handler, "handler");
        ClassLoader loader = handler.getClass().getClassLoader();
        String name = nextName();
        return poll(queue(tq, name, loader), name, loader, task -> start(task, handler), () -> {
        });
    }

    /** The runtime's queue, with its cancel thread (name-cancel) started. */
    private static TaskQueue queue(long tq, String name, ClassLoader loader) {
        TaskQueue queue = new TaskQueue(tq);
        Thread current = Thread.currentThread();
        ClassLoader outer = current.getContextClassLoader();
        current.setContextClassLoader(loader);
        try {
            queue.listenForCancels(name + "-cancel");
        } finally {
            current.setContextClassLoader(outer);
        }
        return queue;
    }

    private static String nextName() {
        return "resty-ffi-" + RUNTIMES.incrementAndGet();
    }

    private static ThreadFactory daemonThreads(String prefix, ClassLoader loader) {
        AtomicInteger seq = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + seq.incrementAndGet());
            t.setDaemon(true);
            t.setContextClassLoader(loader);
            return t;
        };
    }

    private static Thread poll(TaskQueue queue, String name, ClassLoader loader, Consumer<Task> dispatch,
            Runnable onUnload) {
        Thread poller = new Thread(() -> {
            try {
                for (Task task; (task = queue.poll()) != null;) {
                    try {
                        dispatch.accept(task);
                    } catch (Throwable t) {
                        // dispatch answers its own failures; this is the last line of defence
                        if (!task.isAnswered()) {
                            fail(task, t);
                        }
                    }
                }
            } catch (Throwable t) {
                LOG.log(Level.SEVERE, name + ": polling stopped", t);
            } finally {
                onUnload.run();
            }
        }, name + "-poll");
        poller.setDaemon(true);
        poller.setContextClassLoader(loader);
        poller.start();
        return poller;
    }

    private static void submit(Executor executor, Task task, Handler handler) {
        try {
            executor.execute(() -> answer(task, handler));
        } catch (Throwable t) {
            // RejectedExecutionException (pool shut down or saturated): answer now. The
            // handler never ran, so this is not RC_PANICKED.
            fail(task, t, Task.RC_ERROR);
        }
    }

    private static void answer(Task task, Handler handler) {
        byte[] rsp;
        try {
            if (task.isCancelled()) {
                // given up on while it waited for a pool thread: nobody waits for the answer
                respond(task, Task.RC_CANCELLED, "cancelled");
                return;
            }
            rsp = Task.runAs(task, () -> handler.handle(task.request()));
        } catch (Throwable t) {
            fail(task, t);
            return;
        }
        respond(task, 0, rsp);
    }

    private static void start(Task task, AsyncHandler handler) {
        CompletionStage<byte[]> stage;
        try {
            stage = Objects.requireNonNull(Task.runAs(task, () -> handler.handle(task.request())),
                    "AsyncHandler returned null");
        } catch (Throwable t) {
            fail(task, t);
            return;
        }
        if (stage instanceof Future) {
            CompletionStage<byte[]> started = stage;
            task.onCancel(() -> ((Future<?>) started).cancel(true));
        }
        try {
            stage.whenComplete((rsp, err) -> {
                if (err != null) {
                    fail(task, err);
                } else {
                    respond(task, 0, rsp);
                }
            });
        } catch (Throwable t) {
            // a CompletionStage of the handler's own whose whenComplete throws
            fail(task, t);
        }
    }

    /**
     * Answers with the error: a TaskException's rc and message, else RC_PANICKED and the text.
     * Never throws, whatever the Throwable (an Error, a toString that throws, no memory left): the
     * polling and pool threads must outlive every handler.
     */
    static void fail(Task task, Throwable t) {
        fail(task, t, Task.RC_PANICKED);
    }

    /** As {@link #fail(Task, Throwable)}, with otherRc for anything but a TaskException. */
    private static void fail(Task task, Throwable t, int otherRc) {
        if (cancelled(task)) {
            respond(task, Task.RC_CANCELLED, "cancelled");
            return;
        }
        t = unwrap(t);
        int rc = otherRc;
        String msg = null;
        boolean log = true;
        try {
            if (t instanceof TaskException) {
                // the user's code stays even if getMessage throws
                rc = ((TaskException) t).rc();
                rc = rc == 0 ? Task.RC_ERROR : rc;
                msg = t.getMessage();
                log = false;
            } else {
                rc = otherRc;
                msg = Throwables.text(t);
                log = !(t instanceof RejectedExecutionException);
            }
        } catch (Throwable e) {
            msg = undescribed(t);
            log = true;
        }
        respond(task, rc, msg);
        if (log) {
            try {
                LOG.log(Level.SEVERE, "handler failed", t);
            } catch (Throwable e) {
                // out of memory, or a log handler of the application's that throws
            }
        }
    }

    /** Whether the caller gave up on the task. Never throws. */
    private static boolean cancelled(Task task) {
        try {
            return task.isCancelled();
        } catch (Throwable e) {
            return false;
        }
    }

    private static String undescribed(Throwable t) {
        try {
            return t.getClass().getName() + ": <toString() failed>";
        } catch (Throwable e) {
            return null;
        }
    }

    /** The cause of CompletionException and ExecutionException wrappers (a few levels). */
    private static Throwable unwrap(Throwable t) {
        try {
            for (int i = 0; i < 8 && (t instanceof CompletionException || t instanceof ExecutionException)
                    && t.getCause() != null; i++) {
                t = t.getCause();
            }
        } catch (Throwable e) {
            // a getCause() that throws: keep what we have
        }
        return t;
    }

    /** Answers with a UTF-8 message, or nil if there is no memory to encode it. Never throws. */
    private static void respond(Task task, int rc, String msg) {
        byte[] bytes = null;
        try {
            bytes = msg == null ? null : msg.getBytes(StandardCharsets.UTF_8);
        } catch (Throwable e) {
            // OutOfMemoryError: answer without the message
        }
        respond(task, rc, bytes);
    }

    /** Answers once. Never throws. */
    private static void respond(Task task, int rc, byte[] rsp) {
        try {
            task.respond(rc, rsp);
        } catch (IllegalStateException e) {
            quietly(Level.WARNING, "cannot answer: task already answered");
        } catch (Throwable e) {
            // Native.taskRespond answers the task itself when it cannot copy rsp
            quietly(Level.SEVERE, "cannot answer a task");
        }
    }

    private static void quietly(Level level, String msg) {
        try {
            LOG.log(level, msg);
        } catch (Throwable e) {
            // nothing left to tell it with
        }
    }
}

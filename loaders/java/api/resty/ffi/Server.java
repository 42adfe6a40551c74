package resty.ffi;

import java.util.Objects;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 * A handler's exception becomes an error answer ({@code false, 1, "java.lang....: message"}
 * in Lua, or the rc and message of a {@link TaskException}) and the runtime keeps serving.
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
        return poll(new TaskQueue(tq), name, loader, task -> submit(pool, task, handler), pool::shutdown);
    }

    /** Runs the handler on the caller's executor (left running after unload). */
    public static Thread serve(long tq, Handler handler, Executor executor) {
        Objects.requireNonNull(handler, "handler");
        Objects.requireNonNull(executor, "executor");
        ClassLoader loader = handler.getClass().getClassLoader();
        return poll(new TaskQueue(tq), nextName(), loader, task -> submit(executor, task, handler), () -> {
        });
    }

    /**
     * Calls the handler on the polling thread; it starts the work and returns a stage, and the
     * call is answered when the stage completes (on whatever thread completes it).
     */
    public static Thread serveAsync(long tq, AsyncHandler handler) {
        Objects.requireNonNull(handler, "handler");
        ClassLoader loader = handler.getClass().getClassLoader();
        return poll(new TaskQueue(tq), nextName(), loader, task -> start(task, handler), () -> {
        });
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
                    dispatch.accept(task);
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
            // RejectedExecutionException (pool shut down or saturated): answer now.
            fail(task, t);
        }
    }

    private static void answer(Task task, Handler handler) {
        byte[] rsp;
        try {
            rsp = handler.handle(task.request());
        } catch (Throwable t) {
            fail(task, t);
            return;
        }
        task.respond(0, rsp);
    }

    private static void start(Task task, AsyncHandler handler) {
        CompletionStage<byte[]> stage;
        try {
            stage = Objects.requireNonNull(handler.handle(task.request()), "AsyncHandler returned null");
        } catch (Throwable t) {
            fail(task, t);
            return;
        }
        stage.whenComplete((rsp, err) -> {
            if (err != null) {
                fail(task, err);
            } else {
                task.respond(0, rsp);
            }
        });
    }

    /** Answers with the error: a TaskException's rc and message, else rc 1 and the text. */
    static void fail(Task task, Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        int rc = 1;
        String msg = t.toString();
        if (t instanceof TaskException) {
            rc = ((TaskException) t).rc();
            msg = t.getMessage();
        } else if (!(t instanceof RejectedExecutionException)) {
            LOG.log(Level.SEVERE, "handler failed", t);
        }
        try {
            task.respond(rc, msg);
        } catch (IllegalStateException e) {
            LOG.log(Level.WARNING, "cannot answer with the error: " + e.getMessage());
        }
    }
}

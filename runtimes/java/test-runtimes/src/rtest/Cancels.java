package rtest;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import resty.ffi.Server;
import resty.ffi.SharedDict;
import resty.ffi.Task;
import resty.ffi.TaskException;

/**
 * Test runtime for deadlines and cancellation. cfg "sync": Server.serve on 4 threads; else
 * Server.serveAsync. Commands:
 * <ul>
 * <li>"wait MS": waits up to MS for the caller to give up. sync: polls Task.isCancelled();
 * async: a CompletableFuture that Server cancels. On the cancellation it counts and ends with
 * a CancellationException (answered RC_CANCELLED), else answers "not cancelled".
 * <li>"listen MS": sync: waits for Task.onCancel (run by the queue's cancel thread); async:
 * for Task.cancellation().
 * <li>"wait_mark DICT KEY MS", "listen_mark DICT KEY MS": as "wait" and "listen", and on the
 * cancellation they mark it in a shared dict (KEY = the Unix time in seconds, a number, when
 * the handler saw it): the zone outlives a worker that exits while the call waits (t/040's
 * worker exit test).
 * <li>"deadline": ms left (Task.timeLeft()), or "none".
 * <li>"seen": "cancelled=N flagged=M": calls that saw their cancellation, and how many of them
 * found Task.isCancelled() true then.
 * </ul>
 */
public final class Cancels {
    private Cancels() {
    }

    private static byte[] utf8(Object s) {
        return String.valueOf(s).getBytes(StandardCharsets.UTF_8);
    }

    private static final class Seen {
        final AtomicInteger cancelled = new AtomicInteger();
        final AtomicInteger flagged = new AtomicInteger();

        void count(Task task) {
            cancelled.incrementAndGet();
            if (task.isCancelled()) {
                flagged.incrementAndGet();
            }
        }

        byte[] text() {
            return utf8("cancelled=" + cancelled.get() + " flagged=" + flagged.get());
        }
    }

    public static int init(String cfg, long tq) {
        Seen seen = new Seen();
        if ("sync".equals(cfg)) {
            Server.serve(tq, req -> handle(seen, req), 4);
        } else {
            Server.serveAsync(tq, req -> handleAsync(seen, req));
        }
        return 0;
    }

    private static String[] split(byte[] req) {
        String s = new String(req, StandardCharsets.UTF_8);
        int sp = s.indexOf(' ');
        return new String[] {sp < 0 ? s : s.substring(0, sp), sp < 0 ? "" : s.substring(sp + 1)};
    }

    /** "DICT KEY MS": where to mark a cancellation, and how long to wait for one. */
    private static final class Mark {
        final String dict;
        final String key;
        final long ms;

        Mark(String arg) {
            String[] p = arg.split(" ");
            dict = p[0];
            key = p[1];
            ms = Long.parseLong(p[2]);
        }

        /** Stores the time of the notice (Unix seconds) under the key. */
        void set() {
            java.time.Instant now = java.time.Instant.now();
            SharedDict.open(dict).set(key, now.getEpochSecond() + now.getNano() / 1e9, 0);
        }
    }

    private static byte[] common(Seen seen, String cmd, Task task) throws TaskException {
        switch (cmd) {
            case "deadline":
                return utf8(task.timeLeft().map(d -> String.valueOf(d.toMillis())).orElse("none"));
            case "seen":
                return seen.text();
            default:
                throw new TaskException(22, "unknown command " + cmd);
        }
    }

    static byte[] handle(Seen seen, byte[] req) throws Exception {
        String[] c = split(req);
        Task task = Task.current();
        switch (c[0]) {
            case "wait": {
                long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Long.parseLong(c[1]));
                while (System.nanoTime() < end) {
                    if (task.isCancelled()) {
                        seen.count(task);
                        throw new CancellationException("given up");
                    }
                    Thread.sleep(5);
                }
                return utf8("not cancelled");
            }
            case "listen": {
                CountDownLatch latch = new CountDownLatch(1);
                task.onCancel(latch::countDown);
                if (latch.await(Long.parseLong(c[1]), TimeUnit.MILLISECONDS)) {
                    seen.count(task);
                    throw new CancellationException("given up");
                }
                return utf8("not cancelled");
            }
            case "wait_mark": {
                Mark mark = new Mark(c[1]);
                long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(mark.ms);
                while (System.nanoTime() < end) {
                    if (task.isCancelled()) {
                        mark.set();
                        seen.count(task);
                        throw new CancellationException("given up");
                    }
                    Thread.sleep(5);
                }
                return utf8("not cancelled");
            }
            case "listen_mark": {
                Mark mark = new Mark(c[1]);
                CountDownLatch latch = new CountDownLatch(1);
                task.onCancel(() -> {
                    mark.set();
                    latch.countDown();
                });
                if (latch.await(mark.ms, TimeUnit.MILLISECONDS)) {
                    seen.count(task);
                    throw new CancellationException("given up");
                }
                return utf8("not cancelled");
            }
            default:
                return common(seen, c[0], task);
        }
    }

    static CompletableFuture<byte[]> handleAsync(Seen seen, byte[] req) throws Exception {
        String[] c = split(req);
        Task task = Task.current();
        switch (c[0]) {
            case "wait": {
                CompletableFuture<byte[]> f = new CompletableFuture<>();
                f.completeOnTimeout(utf8("not cancelled"), Long.parseLong(c[1]), TimeUnit.MILLISECONDS);
                f.whenComplete((rsp, err) -> {
                    if (err instanceof CancellationException) {
                        seen.count(task);
                    }
                });
                return f;
            }
            case "listen": {
                CompletableFuture<byte[]> f = new CompletableFuture<>();
                f.completeOnTimeout(utf8("not cancelled"), Long.parseLong(c[1]), TimeUnit.MILLISECONDS);
                task.cancellation().thenRun(() -> {
                    seen.count(task);
                    f.completeExceptionally(new CancellationException("given up"));
                });
                return f;
            }
            case "wait_mark": {
                Mark mark = new Mark(c[1]);
                CompletableFuture<byte[]> f = new CompletableFuture<>();
                f.completeOnTimeout(utf8("not cancelled"), mark.ms, TimeUnit.MILLISECONDS);
                f.whenComplete((rsp, err) -> {
                    if (err instanceof CancellationException) {
                        mark.set();
                        seen.count(task);
                    }
                });
                return f;
            }
            default:
                return CompletableFuture.completedFuture(common(seen, c[0], task));
        }
    }
}

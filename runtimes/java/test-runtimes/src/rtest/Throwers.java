package rtest;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;

import resty.ffi.Server;
import resty.ffi.TaskException;

/**
 * Test runtime whose handlers throw Errors and odd Throwables. cfg "sync": Server.serve on
 * one pool thread; "async...": Server.serveAsync (the handler runs on the polling thread).
 * Request: "command argument".
 */
public final class Throwers {
    private Throwers() {
    }

    public static int init(String cfg, long tq) {
        if (cfg.startsWith("async")) {
            Server.serveAsync(tq, req -> handleAsync(cfg, req));
        } else {
            Server.serve(tq, req -> handle(cfg, req), 1);
        }
        return 0;
    }

    /** An Error of the runtime's own. */
    static final class MyError extends Error {
        private static final long serialVersionUID = 1L;

        MyError(String msg) {
            super(msg);
        }
    }

    /** An exception that cannot describe itself. */
    static final class BadToString extends RuntimeException {
        private static final long serialVersionUID = 1L;

        @Override
        public String getMessage() {
            throw new IllegalStateException("no message");
        }

        @Override
        public String toString() {
            throw new IllegalStateException("no toString");
        }
    }

    /** A TaskException whose message cannot be read. */
    static final class BadTaskException extends TaskException {
        private static final long serialVersionUID = 1L;

        BadTaskException() {
            super(5, "unreadable");
        }

        @Override
        public String getMessage() {
            throw new UnsupportedOperationException("no message");
        }
    }

    /** Static initializers that fail: one class per runtime, each touched twice. */
    static final class BrokenSync {
        static final int VALUE = Integer.parseInt("sync");

        private BrokenSync() {
        }
    }

    static final class BrokenAsync {
        static final int VALUE = Integer.parseInt("async");

        private BrokenAsync() {
        }
    }

    /** A stage on which the server cannot even wait. */
    static final class BadStage extends CompletableFuture<byte[]> {
        @Override
        public CompletableFuture<byte[]> whenComplete(BiConsumer<? super byte[], ? super Throwable> action) {
            throw new IllegalStateException("whenComplete refused");
        }
    }

    private static byte[] utf8(Object s) {
        return String.valueOf(s).getBytes(StandardCharsets.UTF_8);
    }

    private static int recurse(int depth) {
        return recurse(depth + 1) + 1;
    }

    /** Throws any Throwable from code that declares none. */
    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
        throw (T) t;
    }

    static byte[] handle(String cfg, byte[] req) throws Exception {
        String s = new String(req, StandardCharsets.UTF_8);
        int sp = s.indexOf(' ');
        String cmd = sp < 0 ? s : s.substring(0, sp);
        String arg = sp < 0 ? "" : s.substring(sp + 1);
        switch (cmd) {
            case "echo":
                return utf8(arg);
            case "soe":
                return utf8(recurse(0));
            case "oom": {
                // Fills the heap for real; it is garbage again once this frame is gone.
                List<long[]> hog = new ArrayList<>();
                for (;;) {
                    hog.add(new long[1 << 20]);
                }
            }
            case "eiie":
                return utf8(cfg.startsWith("sync") ? BrokenSync.VALUE : BrokenAsync.VALUE);
            case "error":
                throw new AssertionError("asserted");
            case "myerror":
                throw new MyError("mine");
            case "throwable":
                throw Throwers.<RuntimeException>sneaky(new Throwable("bare"));
            case "badtostring":
                throw new BadToString();
            case "badtask":
                throw new BadTaskException();
            default:
                throw new TaskException(22, "unknown command " + cmd);
        }
    }

    static CompletableFuture<byte[]> handleAsync(String cfg, byte[] req) throws Exception {
        String s = new String(req, StandardCharsets.UTF_8);
        int sp = s.indexOf(' ');
        String cmd = sp < 0 ? s : s.substring(0, sp);
        switch (cmd) {
            case "fail-soe":
                return CompletableFuture.failedFuture(new StackOverflowError("in a stage"));
            case "fail-badtostring":
                return CompletableFuture.failedFuture(new BadToString());
            case "fail-myerror":
                return CompletableFuture.supplyAsync(() -> {
                    throw new MyError("later");
                });
            case "badstage":
                return new BadStage();
            default:
                return CompletableFuture.completedFuture(handle(cfg, req));
        }
    }
}

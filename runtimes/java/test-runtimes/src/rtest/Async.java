package rtest;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import resty.ffi.Server;
import resty.ffi.TaskException;

/**
 * Test runtime on Server.serveAsync: one polling thread, calls answered when their future
 * completes. "hold" parks a call (no thread waits for it) until "release".
 */
public final class Async {
    private static final List<CompletableFuture<byte[]>> HELD = new ArrayList<>();

    private Async() {
    }

    public static int init(String cfg, long tq) {
        Shared.INITS.incrementAndGet();
        Server.serveAsync(tq, Async::handle);
        return 0;
    }

    private static byte[] utf8(Object s) {
        return String.valueOf(s).getBytes(StandardCharsets.UTF_8);
    }

    static CompletableFuture<byte[]> handle(byte[] req) throws Exception {
        String s = new String(req, StandardCharsets.UTF_8);
        int sp = s.indexOf(' ');
        String cmd = sp < 0 ? s : s.substring(0, sp);
        String arg = sp < 0 ? "" : s.substring(sp + 1);
        switch (cmd) {
            case "now":
                return CompletableFuture.completedFuture(utf8(arg));
            case "hold": {
                CompletableFuture<byte[]> f = new CompletableFuture<>();
                synchronized (HELD) {
                    HELD.add(f);
                }
                return f.thenApply(b -> utf8(arg + " " + new String(b, StandardCharsets.UTF_8)));
            }
            case "release": {
                List<CompletableFuture<byte[]>> held;
                synchronized (HELD) {
                    held = new ArrayList<>(HELD);
                    HELD.clear();
                }
                for (CompletableFuture<byte[]> f : held) {
                    f.complete(utf8("released"));
                }
                return CompletableFuture.completedFuture(utf8(held.size()));
            }
            case "fail":
                return CompletableFuture.failedFuture(new TaskException(9, "async " + arg));
            case "explode":
                return CompletableFuture.supplyAsync(() -> {
                    throw new UnsupportedOperationException("async " + arg);
                });
            case "throw":
                throw new IllegalArgumentException("sync " + arg);
            default:
                throw new TaskException(22, "unknown command " + cmd);
        }
    }
}

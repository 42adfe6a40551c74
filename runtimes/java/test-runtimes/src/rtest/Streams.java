package rtest;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

import resty.ffi.StreamCancelledException;
import resty.ffi.Task;
import resty.ffi.TaskException;

/**
 * Stream commands of {@link Commands} (t/031-stream-sdks.t), written to Task.current().output():
 * "stream n size" (n chunks "i:abc..." of size bytes, then the answer "end"), "stream_fail n"
 * (n chunks of 8 bytes, then rc 7 "went wrong"), "stream_ticks ms" ("tick i" every ms until a
 * write throws StreamCancelledException, counted), "stream_cancels" (that count). A plain call
 * of the others answers rc 22 "not a stream call" (Task.isStream()).
 */
final class Streams {
    private static final AtomicInteger STOPPED = new AtomicInteger();

    private Streams() {
    }

    static byte[] chunkOf(int i, int size) {
        StringBuilder c = new StringBuilder(i + ":");
        for (int n = c.length(); n < size; n++) {
            c.append((char) ('a' + n % 26));
        }
        return c.substring(0, Math.min(size, c.length())).getBytes(StandardCharsets.UTF_8);
    }

    static byte[] handle(String cmd, String arg) throws Exception {
        String[] p = arg.split(" ");
        Task task = Task.current();
        if (!cmd.equals("stream_cancels") && !task.isStream()) {
            throw new TaskException(22, "not a stream call");
        }
        OutputStream out = task.output();
        switch (cmd) {
            case "stream": {
                int n = Integer.parseInt(p[0]);
                int size = Integer.parseInt(p[1]);
                for (int i = 0; i < n; i++) {
                    out.write(chunkOf(i, size));
                }
                return "end".getBytes(StandardCharsets.UTF_8);
            }
            case "stream_fail": {
                int n = Integer.parseInt(p[0]);
                for (int i = 0; i < n; i++) {
                    out.write(chunkOf(i, 8));
                }
                throw new TaskException(7, "went wrong");
            }
            case "stream_ticks": {
                long ms = Long.parseLong(p[0]);
                try {
                    for (int i = 0;; i++) {
                        out.write(("tick " + i).getBytes(StandardCharsets.UTF_8));
                        Thread.sleep(ms);
                    }
                } catch (StreamCancelledException e) {
                    STOPPED.incrementAndGet();
                    throw e;
                }
            }
            default:
                return String.valueOf(STOPPED.get()).getBytes(StandardCharsets.UTF_8);
        }
    }
}

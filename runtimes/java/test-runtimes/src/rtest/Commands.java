package rtest;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import resty.ffi.NginxLog;
import resty.ffi.Server;
import resty.ffi.TaskException;

/**
 * Test runtime on resty.ffi.Server (4 threads). Request: "command argument".
 * cfg: the runtime's name (answered by "whoami").
 */
public final class Commands {
    private static final CountDownLatch GATE = new CountDownLatch(1);

    private Commands() {
    }

    public static int init(String cfg, long tq) {
        Shared.INITS.incrementAndGet();
        Server.serve(tq, req -> handle(cfg, req), 4);
        return 0;
    }

    private static byte[] utf8(Object s) {
        return String.valueOf(s).getBytes(StandardCharsets.UTF_8);
    }

    static byte[] handle(String cfg, byte[] req) throws Exception {
        if (req.length >= 4 && req[0] == 'r' && req[1] == 'e' && req[2] == 'v' && req[3] == ' ') {
            byte[] out = new byte[req.length - 4];
            for (int i = 0; i < out.length; i++) {
                out[i] = req[req.length - 1 - i];
            }
            return out;
        }
        String s = new String(req, StandardCharsets.UTF_8);
        int sp = s.indexOf(' ');
        String cmd = sp < 0 ? s : s.substring(0, sp);
        String arg = sp < 0 ? "" : s.substring(sp + 1);
        switch (cmd) {
            case "stream":
            case "stream_fail":
            case "stream_ticks":
            case "stream_cancels":
                return Streams.handle(cmd, arg);
            case "echo":
                return utf8(arg);
            case "whoami":
                return utf8(cfg);
            case "throw":
                throw new IllegalStateException(arg);
            case "fail": {
                String[] p = arg.split(" ", 2);
                throw new TaskException(Integer.parseInt(p[0]), p.length > 1 ? p[1] : "");
            }
            case "null":
                return null;
            case "empty":
                return new byte[0];
            case "big": {
                byte[] out = new byte[Integer.parseInt(arg)];
                for (int i = 0; i < out.length; i++) {
                    out[i] = (byte) ('a' + i % 26);
                }
                return out;
            }
            case "hold":
                return utf8(GATE.await(10, TimeUnit.SECONDS) ? "held call answered" : "hold timed out");
            case "release":
                GATE.countDown();
                return utf8("released");
            case "jvm":
                return utf8(ProcessHandle.current().pid() + "/"
                        + System.identityHashCode(ClassLoader.getSystemClassLoader()));
            case "inits":
                return utf8(Shared.INITS.get());
            case "prop":
                return utf8(System.getProperty(arg));
            case "args":
                return utf8(String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()));
            case "threads": {
                long n = Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t.isAlive() && t.getName().contains(arg)).count();
                return utf8(n);
            }
            case "nondaemon": {
                // A thread that would keep a java process alive: it must not keep nginx's worker.
                Thread t = new Thread(() -> {
                    try {
                        Thread.sleep(Long.MAX_VALUE);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }, "rtest-non-daemon");
                t.setDaemon(false);
                t.start();
                return utf8("started");
            }
            case "version":
                return utf8(Runtime.version().feature());
            case "sigblk":
                for (String line : Files.readAllLines(Paths.get("/proc/thread-self/status"))) {
                    if (line.startsWith("SigBlk:")) {
                        return utf8(line.substring(7).trim());
                    }
                }
                return utf8("?");
            case "jul": {
                String[] p = arg.split(" ", 2);
                Logger.getLogger("rtest").log(Level.parse(p[0]), p[1]);
                return utf8("logged");
            }
            case "jul-exception":
                Logger.getLogger("rtest").log(Level.SEVERE, "with exception", new IllegalArgumentException(arg));
                return utf8("logged");
            case "syslog":
                System.getLogger("rtest.sys").log(System.Logger.Level.WARNING, arg);
                return utf8("logged");
            case "nginxlog": {
                String[] p = arg.split(" ", 2);
                NginxLog.log(Integer.parseInt(p[0]), p[1]);
                return utf8("logged");
            }
            default:
                throw new TaskException(22, "unknown command " + cmd);
        }
    }
}

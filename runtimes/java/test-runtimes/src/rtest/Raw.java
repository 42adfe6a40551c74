package rtest;

import resty.ffi.NginxLog;
import resty.ffi.Task;
import resty.ffi.TaskQueue;

/**
 * Test runtime on the bare TaskQueue API, with two polling threads. "twice" answers, then tries
 * to answer again. Each thread logs when its poll returns null (unload).
 */
public final class Raw {
    private Raw() {
    }

    public static int init(String cfg, long tq) {
        TaskQueue queue = new TaskQueue(tq);
        for (int i = 1; i <= 2; i++) {
            int n = i;
            Thread t = new Thread(() -> serve(cfg, n, queue), "rtest-raw-" + cfg + "-" + n);
            t.setDaemon(true);
            t.start();
        }
        return 0;
    }

    private static void serve(String cfg, int n, TaskQueue queue) {
        for (Task task; (task = queue.poll()) != null;) {
            String req = task.requestString();
            task.respond(0, "raw " + req);
            if (req.equals("twice")) {
                try {
                    task.respond(0, "second");
                } catch (IllegalStateException e) {
                    NginxLog.notice("rtest.Raw: second answer refused: " + e.getMessage());
                }
            }
        }
        NginxLog.notice("rtest.Raw " + cfg + ": poller " + n + " sees the queue closed: " + queue.isClosed());
    }
}

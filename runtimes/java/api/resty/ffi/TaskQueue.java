package resty.ffi;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The queue of calls of one loaded runtime: the {@code long tq} given to the runtime's init
 * method. Any number of threads may poll it.
 *
 * <pre>{@code
 * public static int init(String cfg, long tq) {
 *     TaskQueue queue = new TaskQueue(tq);
 *     Thread t = new Thread(() -> {
 *         for (Task task; (task = queue.poll()) != null; ) {
 *             task.respond(0, task.request());
 *         }
 *     });
 *     t.setDaemon(true);
 *     t.start();
 *     return 0;
 * }
 * }</pre>
 *
 * {@link #listenForCancels} starts a thread that hears from the module which calls in hand
 * were cancelled by their callers and tells their {@link Task}s ({@link Task#onCancel},
 * {@link Task#cancellation()}); {@link Task#isCancelled()} works without it.
 */
public final class TaskQueue {
    private static final Logger LOG = Logger.getLogger("resty.ffi.TaskQueue");
    private static final byte[] UNREADABLE = "cannot read the request".getBytes(StandardCharsets.UTF_8);

    private final long address;
    private volatile boolean closed;
    /** Tasks polled and not answered yet, by address, once listenForCancels was called. */
    private final ConcurrentHashMap<Long, Task> inHand = new ConcurrentHashMap<>();
    private volatile boolean listening;
    private Thread cancelThread;

    public TaskQueue(long tq) {
        if (tq == 0) {
            throw new IllegalArgumentException("task queue address is 0");
        }
        this.address = tq;
    }

    /**
     * Blocks until the next call. Returns null once the runtime is unloaded (after every call
     * queued before the unload was handed out), and null from then on: the polling thread
     * should end.
     */
    public Task poll() {
        for (;;) {
            if (closed) {
                return null;
            }
            long task = Native.taskPoll(address);
            if (task == 0) {
                closed = true;
                return null;
            }
            try {
                if (!listening) {
                    return new Task(task, Native.taskRequest(task), null);
                }
                Task t = new Task(task, Native.taskRequest(task), this);
                inHand.put(task, t);
                // cancelled before it was in the registry: the cancel thread did not find it
                if (Native.taskCancelled(task)) {
                    t.markCancelled();
                }
                return t;
            } catch (Throwable t) {
                // no heap for the request (a request bigger than -Xmx): answer it and go on
                refuse(task, t);
            }
        }
    }

    /**
     * Answers a task whose request could not be read: {@link Task#RC_NO_MEMORY} when the heap
     * cannot hold it, else {@link Task#RC_ERROR}. Never throws.
     */
    private static void refuse(long task, Throwable t) {
        int rc = t instanceof OutOfMemoryError ? Task.RC_NO_MEMORY : Task.RC_ERROR;
        byte[] msg = UNREADABLE;
        try {
            msg = ("cannot read the request: " + Throwables.text(t)).getBytes(StandardCharsets.UTF_8);
        } catch (Throwable e) {
            // no memory for a message: the fixed one
        }
        try {
            Native.taskRespond(task, rc, msg);
        } catch (Throwable e) {
            // the module answers the task itself when it cannot copy msg
        }
        try {
            LOG.log(Level.SEVERE, "cannot read a request", t);
        } catch (Throwable e) {
            // nothing left to tell it with
        }
    }

    /** The task was answered: the cancel thread has nothing more to tell it. */
    void forget(Task task) {
        inHand.remove(task.address(), task);
    }

    /**
     * Starts (once; later calls return the same thread) a daemon thread named name that waits
     * in the module's cancel poll and completes the {@link Task#cancellation()} of each task
     * polled from now on whose caller gives up. It ends when the runtime is unloaded. Call it
     * before the first poll (the module keeps cancellations for a runtime only from its first
     * cancel poll on). {@link Server} calls it for you.
     */
    public synchronized Thread listenForCancels(String name) {
        if (cancelThread != null) {
            return cancelThread;
        }
        listening = true;
        Thread t = new Thread(this::deliverCancels, name);
        t.setDaemon(true);
        t.setContextClassLoader(Thread.currentThread().getContextClassLoader());
        t.start();
        cancelThread = t;
        return t;
    }

    private void deliverCancels() {
        long[] cancelled = new long[64];
        try {
            for (int n; (n = Native.cancelPoll(address, cancelled)) > 0;) {
                for (int i = 0; i < n; i++) {
                    Task task = inHand.get(cancelled[i]);
                    if (task != null) {
                        task.markCancelled();
                    }
                }
            }
        } catch (Throwable t) {
            try {
                LOG.log(Level.SEVERE, "cancellations stopped", t);
            } catch (Throwable e) {
                // nothing left to tell it with
            }
        }
    }

    /** True once a poll has returned null (the runtime was unloaded). */
    public boolean isClosed() {
        return closed;
    }

    /** The queue's address, as given to the init method. */
    public long address() {
        return address;
    }
}

package resty.ffi;

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
 */
public final class TaskQueue {
    private final long address;
    private volatile boolean closed;

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
        if (closed) {
            return null;
        }
        long task = Native.taskPoll(address);
        if (task == 0) {
            closed = true;
            return null;
        }
        return new Task(task, Native.taskRequest(task));
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

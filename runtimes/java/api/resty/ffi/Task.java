package resty.ffi;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One call from Lua: {@code rt:anyname(request)}. Answer it exactly once, from any thread;
 * the Lua coroutine waits until then (or until its timeout).
 *
 * <p>Deadlines and cancellation: {@link #timeLeft()} until the caller stops waiting;
 * {@link #isCancelled()} once the caller gave up (its timeout passed, the client went away,
 * its request ended, the worker is exiting), and {@link #onCancel(Runnable)} /
 * {@link #cancellation()} to hear of it (delivered by a thread of the queue in the module's
 * cancel poll, which {@link Server} starts). A cancelled call must still be answered; the
 * module throws the answer away. In a handler of {@link Server}, {@link #current()} is the
 * call it serves.
 */
public final class Task {
    /*
     * Answer codes (abi/resty_ffi.h), the same in every language. rc 0 is success; positive
     * rcs are the runtime's own; -1 to -99 are reserved for what the SDKs and loaders answer on
     * their own.
     */

    /** An error that carries no code of its own (e.g. a {@link TaskException} with rc 0). */
    public static final int RC_ERROR = -1;
    /** The handler threw: any exception or error but a {@link TaskException}. */
    public static final int RC_PANICKED = -2;
    /** The task was dropped without an answer. */
    public static final int RC_DROPPED = -3;
    /** No memory for the request or the answer. */
    public static final int RC_NO_MEMORY = -4;
    /** The call was cancelled: its caller gave up (the answer is thrown away). */
    public static final int RC_CANCELLED = -5;

    private static final ThreadLocal<Task> CURRENT = new ThreadLocal<>();

    private final long address;
    private final byte[] request;
    private final AtomicBoolean answered = new AtomicBoolean();
    /** System.nanoTime() when the caller stops waiting; meaningless without a deadline. */
    private final long deadlineNanos;
    private final boolean hasDeadline;
    /** Completed once the module says the caller gave up. */
    private final CompletableFuture<Void> cancellation = new CompletableFuture<>();
    /** The queue's registry of tasks in hand (for its cancel thread), or null. */
    private final TaskQueue queue;
    /** Held by a stream send while in the module, and by the answer: sends come first. */
    private final Object sendLock = new Object();

    Task(long address, byte[] request, TaskQueue queue) {
        this.address = address;
        this.request = request;
        this.queue = queue;
        long left = Native.taskTimeLeft(address);
        this.hasDeadline = left >= 0;
        this.deadlineNanos = hasDeadline ? System.nanoTime() + left : 0;
    }

    /**
     * The call the running handler serves: set by {@link Server} while a {@link Handler} runs,
     * and while an {@link AsyncHandler} starts its work (read it before the first hand-off to
     * another thread). Null elsewhere.
     */
    public static Task current() {
        return CURRENT.get();
    }

    /** Runs body with {@link #current()} set to task. */
    static <T> T runAs(Task task, java.util.concurrent.Callable<T> body) throws Exception {
        Task outer = CURRENT.get();
        CURRENT.set(task);
        try {
            return body.call();
        } finally {
            if (outer == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(outer);
            }
        }
    }

    /**
     * True once the caller gave up on the call: stop working for it (and still answer, e.g.
     * {@code respond(RC_CANCELLED, (byte[]) null)}).
     */
    public boolean isCancelled() {
        if (cancellation.isDone()) {
            return true;
        }
        if (answered.get()) {
            return false;
        }
        // an answer given meanwhile makes the address stale, which reads as cancelled
        if (Native.taskCancelled(address) && !answered.get()) {
            markCancelled();
            return true;
        }
        return false;
    }

    /** Time left until the caller stops waiting (zero once passed); empty without a timeout. */
    public Optional<Duration> timeLeft() {
        if (!hasDeadline) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime())));
    }

    /** When the caller stops waiting, on the clock of {@link System#nanoTime()}; empty without a timeout. */
    public OptionalLong deadlineNanos() {
        return hasDeadline ? OptionalLong.of(deadlineNanos) : OptionalLong.empty();
    }

    /**
     * A stage that completes when the caller gives up (never, for a call answered first).
     * Its dependent actions run on the queue's cancel thread: keep them short.
     */
    public CompletionStage<Void> cancellation() {
        return cancellation.minimalCompletionStage();
    }

    /**
     * Runs action when the caller gives up (at once, on this thread, if it already did); on the
     * queue's cancel thread otherwise: keep it short. An exception it throws is ignored.
     */
    public void onCancel(Runnable action) {
        cancellation.thenRun(action);
    }

    /** The cancel thread or a check found the call cancelled. */
    void markCancelled() {
        cancellation.complete(null);
    }

    long address() {
        return address;
    }

    /** The request bytes (the task's own copy: the same array on every call). */
    public byte[] request() {
        return request;
    }

    /** The request decoded as UTF-8. */
    public String requestString() {
        return new String(request, StandardCharsets.UTF_8);
    }

    /**
     * Answers the call. rc 0: Lua gets {@code true, rsp}; else {@code false, rc, rsp}.
     * rsp null reads as nil in Lua. Use a positive rc of your own, or one of the RC_ codes.
     * If the JVM cannot copy rsp for the module, the call is answered without it (rc 0
     * becomes {@link #RC_NO_MEMORY}).
     *
     * @throws IllegalStateException if the task was already answered
     */
    public void respond(int rc, byte[] rsp) {
        // a send in progress (on another thread) returns first; none starts after
        synchronized (sendLock) {
            if (!answered.compareAndSet(false, true)) {
                throw new IllegalStateException("task already answered");
            }
            if (queue != null) {
                queue.forget(this);
            }
            Native.taskRespond(address, rc, rsp);
        }
    }

    /** True if the caller reads this call as a stream ({@code rt:stream_x(req)} in Lua). */
    public boolean isStream() {
        return !answered.get() && Native.taskStreaming(address);
    }

    /**
     * Sends buf[off, off + len) as one chunk of a stream call's answer (copied), waiting while
     * the caller's window is full. The answer ({@link #respond}) ends the stream; its bytes, if
     * any, are the last chunk. Safe from any thread (sends are serialized).
     *
     * @throws StreamCancelledException once the caller stopped reading: send no more
     * @throws java.io.IOException for a plain call, or a task already answered
     */
    public void send(byte[] buf, int off, int len) throws java.io.IOException {
        synchronized (sendLock) {
            if (answered.get()) {
                throw new java.io.IOException("the call is already answered");
            }
            int rc = Native.taskSend(address, buf, off, len);
            if (rc == RC_CANCELLED) {
                markCancelled();
                throw new StreamCancelledException();
            }
            if (rc != 0) {
                throw new java.io.IOException("not a stream call (rt:stream_x in Lua)");
            }
        }
    }

    /** Sends a whole array as one chunk: see {@link #send(byte[], int, int)}. */
    public void send(byte[] chunk) throws java.io.IOException {
        send(chunk, 0, chunk.length);
    }

    /**
     * The call's answer as an OutputStream: every write is one chunk of the stream (nothing is
     * buffered; wrap it in a BufferedOutputStream for fewer, larger chunks). Closing it does
     * not answer the call.
     */
    public java.io.OutputStream output() {
        return new java.io.OutputStream() {
            @Override
            public void write(int b) throws java.io.IOException {
                send(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws java.io.IOException {
                java.util.Objects.checkFromIndexSize(off, len, b.length);
                send(b, off, len);
            }
        };
    }

    /** Answers with a UTF-8 string (null reads as nil in Lua). */
    public void respond(int rc, String rsp) {
        respond(rc, rsp == null ? null : rsp.getBytes(StandardCharsets.UTF_8));
    }

    /** Answers with success. */
    public void respond(byte[] rsp) {
        respond(0, rsp);
    }

    public boolean isAnswered() {
        return answered.get();
    }
}

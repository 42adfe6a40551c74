package resty.ffi;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One call from Lua: {@code rt:anyname(request)}. Answer it exactly once, from any thread;
 * the Lua coroutine waits until then (or until its timeout).
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
    /** Reserved: the call was cancelled. */
    public static final int RC_CANCELLED = -5;

    private final long address;
    private final byte[] request;
    private final AtomicBoolean answered = new AtomicBoolean();

    Task(long address, byte[] request) {
        this.address = address;
        this.request = request;
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
        if (!answered.compareAndSet(false, true)) {
            throw new IllegalStateException("task already answered");
        }
        Native.taskRespond(address, rc, rsp);
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

package resty.ffi;

/**
 * The native methods behind the Java API. libffi_java.so registers them (RegisterNatives) when
 * it starts the JVM, so they exist only in a JVM started by ngx.load_ffi("ffi_java", ...).
 */
final class Native {
    private Native() {
    }

    /** Blocks until a task is queued; its address, or 0 once the runtime is unloaded. */
    static native long taskPoll(long tq);

    /** A copy of the task's request bytes. */
    static native byte[] taskRequest(long task);

    /** Answers the task (once): rsp null is nil in Lua, an empty array is "". */
    static native void taskRespond(long task, int rc, byte[] rsp);

    /** One message into nginx's error.log at an nginx level (1 emerg .. 8 debug). */
    static native void log(int level, byte[] utf8);

    /** Whether the module has its log function (else messages go to stderr). */
    static native boolean logAvailable();

    /** Whether the caller gave up on the task (or the address is no longer current). */
    static native boolean taskCancelled(long task);

    /** Nanoseconds until the caller stops waiting (0 once passed); -1 without a timeout. */
    static native long taskTimeLeft(long task);

    /**
     * Blocks until tasks this runtime holds are cancelled, stores their addresses in out and
     * returns how many; 0 once the runtime is unloaded.
     */
    static native int cancelPoll(long tq, long[] out);

    /** The zone of a lua_shared_dict (a handle for the calls below). */
    static native long shdictOpen(byte[] utf8Name);

    /** null when absent; else type, flags and value (see SharedDict.decode). */
    static native byte[] shdictGet(long dict, byte[] key);

    /** 0 stored, 1 stored evicting valid items, 2 exists, 3 not found; type 0 deletes. */
    static native int shdictStore(long dict, int op, byte[] key, int type, byte[] str, double num,
            long ttlMs, int flags);

    /** The new value of a number. */
    static native double shdictIncr(long dict, byte[] key, double delta, boolean hasInit, double init,
            long initTtlMs);

    /** ms left, 0 never expires, -1 not there. */
    static native long shdictTtl(long dict, byte[] key);

    /** false if the key is not there. */
    static native boolean shdictExpire(long dict, byte[] key, long ttlMs);
    /** Whether the caller reads the task's answer as a stream ({@code rt:stream_x(req)}). */
    static native boolean taskStreaming(long task);

    /**
     * Sends buf[off, off + len) as one chunk of a stream (copied), waiting while the caller's
     * window is full: 0 sent, -5 the caller stopped reading, -1 not a stream task in hand.
     */
    static native int taskSend(long task, byte[] buf, int off, int len);
}

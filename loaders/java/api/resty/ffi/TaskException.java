package resty.ffi;

/**
 * Thrown by a handler to answer with an error code of its choice: Lua gets
 * {@code false, rc, message}. Not logged (it is an answer, not a failure).
 */
public class TaskException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int rc;

    /** rc must not be 0 (0 means success); 0 is turned into 1. */
    public TaskException(int rc, String message) {
        super(message);
        this.rc = rc == 0 ? 1 : rc;
    }

    public TaskException(int rc, String message, Throwable cause) {
        super(message, cause);
        this.rc = rc == 0 ? 1 : rc;
    }

    public int rc() {
        return rc;
    }
}

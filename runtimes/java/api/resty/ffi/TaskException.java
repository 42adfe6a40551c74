package resty.ffi;

/**
 * Thrown by a handler to answer with an error code of its choice: Lua gets
 * {@code false, rc, message}. Not logged (it is an answer, not a failure).
 */
public class TaskException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int rc;

    /**
     * rc is the answer's code: positive for your own codes. rc 0 (success) is turned into
     * {@link Task#RC_ERROR} (-1), an error without a code of its own.
     */
    public TaskException(int rc, String message) {
        super(message);
        this.rc = rc == 0 ? Task.RC_ERROR : rc;
    }

    public TaskException(int rc, String message, Throwable cause) {
        super(message, cause);
        this.rc = rc == 0 ? Task.RC_ERROR : rc;
    }

    public int rc() {
        return rc;
    }
}

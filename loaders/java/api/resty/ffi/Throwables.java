package resty.ffi;

/** One-line descriptions of exceptions for error.log. */
final class Throwables {
    private static final int MAX_CAUSES = 4;

    private Throwables() {
    }

    /**
     * "Class: message; caused by Class: message at Frame": the chain of causes first (it
     * says what went wrong; error messages may be cut), then where the innermost one was
     * thrown.
     */
    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder(String.valueOf(t));
        Throwable innermost = t;
        Throwable cause = t.getCause();
        for (int i = 0; cause != null && cause != innermost && i < MAX_CAUSES; i++) {
            sb.append("; caused by ").append(cause);
            innermost = cause;
            cause = cause.getCause();
        }
        StackTraceElement[] stack = innermost.getStackTrace();
        if (stack.length > 0) {
            sb.append(" at ").append(stack[0]);
        }
        return sb.toString();
    }
}

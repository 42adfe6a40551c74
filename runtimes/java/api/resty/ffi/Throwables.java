package resty.ffi;

/** One-line descriptions of exceptions for error.log and error answers. */
final class Throwables {
    private static final int MAX_CAUSES = 4;

    private Throwables() {
    }

    /**
     * {@code t.toString()}, or "Class: &lt;toString() failed&gt;" when that throws (an
     * exception class may override toString or getMessage). Never throws, except an Error
     * raised while building the fallback itself (out of memory).
     */
    static String text(Throwable t) {
        try {
            return String.valueOf(t);
        } catch (Throwable e) {
            return t.getClass().getName() + ": <toString() failed>";
        }
    }

    /**
     * "Class: message; caused by Class: message at Frame": the chain of causes first (it
     * says what went wrong; error messages may be cut), then where the innermost one was
     * thrown. Methods a Throwable may override (getCause, getStackTrace) that throw end
     * the description early.
     */
    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder(text(t));
        try {
            Throwable innermost = t;
            Throwable cause = t.getCause();
            for (int i = 0; cause != null && cause != innermost && i < MAX_CAUSES; i++) {
                sb.append("; caused by ").append(text(cause));
                innermost = cause;
                cause = cause.getCause();
            }
            StackTraceElement[] stack = innermost.getStackTrace();
            if (stack.length > 0) {
                sb.append(" at ").append(stack[0]);
            }
        } catch (RuntimeException e) {
            sb.append(" (").append(e.getClass().getName()).append(" while describing it)");
        }
        return sb.toString();
    }
}

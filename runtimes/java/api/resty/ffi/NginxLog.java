package resty.ffi;

import java.nio.charset.StandardCharsets;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.LogManager;
import java.util.logging.Logger;

/**
 * Lines into nginx's error.log (as {@code [resty_ffi] <msg>}), filtered by its error_log
 * level. Any thread; never blocks.
 *
 * <p>java.util.logging, and System.Logger which uses it, go there too: the loader installs
 * {@link NginxLogHandler} on the root logger (in place of the console handler) when it loads
 * the first runtime, unless the JVM runs with {@code -Dresty.ffi.logging=false}.
 */
public final class NginxLog {
    public static final int EMERG = 1;
    public static final int ALERT = 2;
    public static final int CRIT = 3;
    public static final int ERR = 4;
    public static final int WARN = 5;
    public static final int NOTICE = 6;
    public static final int INFO = 7;
    public static final int DEBUG = 8;

    private NginxLog() {
    }

    /** Logs at an nginx level (1 emerg .. 8 debug). Empty messages are dropped. */
    public static void log(int level, String msg) {
        if (msg == null || msg.isEmpty()) {
            return;
        }
        try {
            Native.log(level, msg.getBytes(StandardCharsets.UTF_8));
        } catch (UnsatisfiedLinkError e) {
            // Not in a JVM started by libffi_java.so (e.g. a unit test).
            System.err.println("[resty_ffi] " + msg);
        }
    }

    public static void error(String msg) {
        log(ERR, msg);
    }

    public static void warn(String msg) {
        log(WARN, msg);
    }

    public static void notice(String msg) {
        log(NOTICE, msg);
    }

    public static void info(String msg) {
        log(INFO, msg);
    }

    public static void debug(String msg) {
        log(DEBUG, msg);
    }

    /** Whether lines reach error.log through the module (else stderr). */
    public static boolean available() {
        try {
            return Native.logAvailable();
        } catch (UnsatisfiedLinkError e) {
            return false;
        }
    }

    /**
     * Sends java.util.logging to error.log: replaces the root logger's console handlers with
     * an {@link NginxLogHandler}. Idempotent.
     */
    public static synchronized void installLoggingHandler() {
        Logger root = LogManager.getLogManager().getLogger("");
        for (Handler h : root.getHandlers()) {
            if (h instanceof NginxLogHandler) {
                return;
            }
            if (h instanceof ConsoleHandler) {
                root.removeHandler(h);
            }
        }
        root.addHandler(new NginxLogHandler());
    }
}

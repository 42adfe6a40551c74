package resty.ffi;

import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.SimpleFormatter;

/**
 * A java.util.logging handler writing to nginx's error.log: SEVERE is err, WARNING warn,
 * INFO and CONFIG info, finer levels debug. A line reads {@code java <logger>: <message>}
 * followed by the exception, if any, on the same line.
 */
public final class NginxLogHandler extends Handler {
    private final Formatter messages = new SimpleFormatter();

    public NginxLogHandler() {
        setLevel(Level.ALL);
    }

    static int nginxLevel(Level level) {
        int v = level.intValue();
        if (v >= Level.SEVERE.intValue()) {
            return NginxLog.ERR;
        }
        if (v >= Level.WARNING.intValue()) {
            return NginxLog.WARN;
        }
        if (v >= Level.CONFIG.intValue()) {
            return NginxLog.INFO;
        }
        return NginxLog.DEBUG;
    }

    @Override
    public void publish(LogRecord record) {
        if (record == null || !isLoggable(record)) {
            return;
        }
        StringBuilder line = new StringBuilder("java ");
        line.append(record.getLoggerName() == null ? "-" : record.getLoggerName()).append(": ");
        line.append(messages.formatMessage(record));
        if (record.getThrown() != null) {
            line.append(": ").append(Throwables.describe(record.getThrown()));
        }
        NginxLog.log(nginxLevel(record.getLevel()), line.toString());
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
}

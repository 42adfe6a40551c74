//! The `log` crate, written into nginx's error.log through the module.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct NginxLogger;

static LOGGER: NginxLogger = NginxLogger;

/// nginx's levels: 4 err, 5 warn, 7 info, 8 debug.
fn nginx_level(level: Level) -> i32 {
    match level {
        Level::Error => 4,
        Level::Warn => 5,
        Level::Info => 7,
        Level::Debug | Level::Trace => 8,
    }
}

impl Log for NginxLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        // nginx's error_log level filters; the module drops what it would not write.
        true
    }

    fn log(&self, record: &Record<'_>) {
        let line = format!("{}: {}", record.target(), record.args());
        crate::ffi::log_line(nginx_level(record.level()), &line);
    }

    fn flush(&self) {}
}

/// Installs the logger (once per runtime library; later calls are no-ops).
pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Trace);
    }
}

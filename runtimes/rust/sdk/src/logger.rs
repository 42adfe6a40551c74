//! The `log` crate, written into nginx's error.log through the module.

use std::ffi::c_int;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::raw::{self, level};

struct NginxLogger;

static LOGGER: NginxLogger = NginxLogger;

/// The nginx level of a `log` level.
fn nginx_level(l: Level) -> c_int {
    match l {
        Level::Error => level::ERR,
        Level::Warn => level::WARN,
        Level::Info => level::INFO,
        Level::Debug | Level::Trace => level::DEBUG,
    }
}

impl Log for NginxLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        // nginx's error_log level filters; the module drops what it would not write.
        true
    }

    fn log(&self, record: &Record<'_>) {
        let line = format!("{}: {}", record.target(), record.args());
        raw::log_line(nginx_level(record.level()), &line);
    }

    fn flush(&self) {}
}

/// Installs the logger (once per runtime library; later calls are no-ops).
pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Trace);
    }
}

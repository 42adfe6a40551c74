//! abi/resty_ffi.h's constants in Rust: the one contract, for the module, the Rust SDK and
//! the language loaders. A test checks every `#define` of the header against this crate, so
//! the two cannot drift apart. (The functions themselves: the header; the module exports
//! them, the SDK resolves them at run time.)

use std::ffi::c_int;

/// Answer codes the module, SDKs and loaders produce on their own: `RESTY_FFI_RC_*`. rc 0 is
/// success, positive rcs are the runtime's own.
pub mod rc {
    use std::ffi::c_int;

    /// An error that carries no code of its own.
    pub const ERROR: c_int = -1;
    /// The handler panicked, threw or raised.
    pub const PANICKED: c_int = -2;
    /// The task was dropped without an answer.
    pub const DROPPED: c_int = -3;
    /// No memory for the request or the answer.
    pub const NO_MEMORY: c_int = -4;
    /// The call was cancelled: its caller gave up.
    pub const CANCELLED: c_int = -5;
}

/// nginx's log levels, for `ngx_http_resty_ffi_log`: `RESTY_FFI_LOG_*`.
pub mod log_level {
    use std::ffi::c_int;

    pub const EMERG: c_int = 1;
    pub const ALERT: c_int = 2;
    pub const CRIT: c_int = 3;
    pub const ERR: c_int = 4;
    pub const WARN: c_int = 5;
    pub const NOTICE: c_int = 6;
    pub const INFO: c_int = 7;
    pub const DEBUG: c_int = 8;
}

/// Shared dictionaries: value types (as Lua's) and store operations: `RESTY_FFI_SHDICT_*`.
pub mod shdict {
    use std::ffi::c_int;

    pub const NIL: c_int = 0;
    pub const BOOLEAN: c_int = 1;
    pub const NUMBER: c_int = 3;
    pub const STRING: c_int = 4;

    pub const SET: c_int = 0;
    pub const ADD: c_int = 1;
    pub const REPLACE: c_int = 2;
    pub const SAFE_SET: c_int = 4;
    pub const SAFE_ADD: c_int = 5;
}

/// The asynchronous signals nginx handles in its processes. The module blocks them while
/// `libffi_init` runs, and loaders start their own threads with them blocked, so they stay
/// on nginx's thread. (Synchronous ones, SIGSEGV and the like, stay open: a JVM needs them.)
pub const NGINX_SIGNALS: [c_int; 10] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCHLD,
    libc::SIGALRM,
    libc::SIGIO,
];

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = include_str!("../resty_ffi.h");

    /// Every `#define RESTY_FFI_<NAME> <value>` of the header (value without parentheses).
    fn defines() -> Vec<(String, c_int)> {
        HEADER
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next()? == "#define").then_some(())?;
                let name = w.next()?.strip_prefix("RESTY_FFI_")?.to_string();
                let value = w.next()?.trim_matches(|c| c == '(' || c == ')').parse().ok()?;
                Some((name, value))
            })
            .collect()
    }

    fn ours(name: &str) -> Option<c_int> {
        let table: &[(&str, c_int)] = &[
            ("RC_ERROR", rc::ERROR),
            ("RC_PANICKED", rc::PANICKED),
            ("RC_DROPPED", rc::DROPPED),
            ("RC_NO_MEMORY", rc::NO_MEMORY),
            ("RC_CANCELLED", rc::CANCELLED),
            ("LOG_EMERG", log_level::EMERG),
            ("LOG_ALERT", log_level::ALERT),
            ("LOG_CRIT", log_level::CRIT),
            ("LOG_ERR", log_level::ERR),
            ("LOG_WARN", log_level::WARN),
            ("LOG_NOTICE", log_level::NOTICE),
            ("LOG_INFO", log_level::INFO),
            ("LOG_DEBUG", log_level::DEBUG),
            ("SHDICT_NIL", shdict::NIL),
            ("SHDICT_BOOLEAN", shdict::BOOLEAN),
            ("SHDICT_NUMBER", shdict::NUMBER),
            ("SHDICT_STRING", shdict::STRING),
            ("SHDICT_SET", shdict::SET),
            ("SHDICT_ADD", shdict::ADD),
            ("SHDICT_REPLACE", shdict::REPLACE),
            ("SHDICT_SAFE_SET", shdict::SAFE_SET),
            ("SHDICT_SAFE_ADD", shdict::SAFE_ADD),
        ];
        table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn every_define_of_the_header_is_here_with_its_value() {
        let defines = defines();
        assert!(defines.len() >= 22, "found {} defines", defines.len());
        for (name, value) in defines {
            assert_eq!(ours(&name), Some(value), "RESTY_FFI_{name}");
        }
    }

    #[test]
    fn the_signals_are_nginx_s_asynchronous_ones() {
        for s in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGPIPE] {
            assert!(!NGINX_SIGNALS.contains(&s));
        }
        assert!(NGINX_SIGNALS.contains(&libc::SIGCHLD) && NGINX_SIGNALS.contains(&libc::SIGHUP));
    }
}

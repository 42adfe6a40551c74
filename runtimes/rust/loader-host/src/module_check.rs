//! The module's task functions, or a reason that names the library and what it needs.

use resty_ffi_sdk::raw::{self, ModuleAbi};

/// The module's task functions; without them (the library runs outside nginx, or in an nginx
/// without the resty-ffi module) a reason naming the first missing symbol and `library`
/// (e.g. `libffi_java.so`).
pub fn require_module(library: &str) -> Result<&'static ModuleAbi, String> {
    raw::module_abi().map_err(|e| {
        format!(
            "symbol {} not found: {library} must be loaded by ngx.load_ffi in an nginx with \
             the resty-ffi module",
            e.name()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_nginx_the_reason_names_the_symbol_and_the_library() {
        // A unit test process has no resty-ffi module in it.
        let e = require_module("libffi_x.so").err().unwrap_or_default();
        assert!(e.contains("ngx_http_lua_ffi_task_poll"), "{e}");
        assert!(e.contains("libffi_x.so"), "{e}");
    }
}

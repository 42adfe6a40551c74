//! The smallest runtime: answers every request with cfg (if any) followed by the request.
//!
//! ```lua
//! local rt = ngx.load_ffi("ffi_echo", "prefix: ")
//! local ok, res = rt:echo("hi")      -- true, "prefix: hi"
//! ```

use resty_ffi_sdk::Init;

fn start(init: Init) -> Result<(), String> {
    let prefix = init.cfg().unwrap_or_default().as_bytes().to_vec();
    init.serve(1, move |req| Ok([prefix.as_slice(), req].concat()))
        .map_err(|e| format!("cannot start the echo thread: {e}"))
}

resty_ffi_sdk::runtime!(start);

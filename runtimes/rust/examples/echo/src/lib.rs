//! The smallest runtime: answers every request with cfg (if any) followed by the request.
//!
//! ```lua
//! local rt = ngx.load_ffi("ffi_echo", "prefix: ")
//! local ok, res = rt:echo("hi")      -- true, "prefix: hi"
//! ```

use resty_ffi_sdk::Init;

fn start(init: Init) -> Result<(), String> {
    let prefix = init.cfg().unwrap_or_default().as_bytes().to_vec();
    // The answer is written straight into the memory the module takes over (`serve_into`):
    // a `Vec` reply would be copied once more on its way out.
    init.serve_into(1, move |req, _call, out| {
        out.reserve(prefix.len() + req.len())
            .and_then(|()| out.extend_from_slice(&prefix))
            .and_then(|()| out.extend_from_slice(req))
            .map_err(|e| (resty_ffi_sdk::RC_NO_MEMORY, e.to_string().into_bytes()))
    })
    .map_err(|e| format!("cannot start the echo thread: {e}"))
}

resty_ffi_sdk::runtime!(start);

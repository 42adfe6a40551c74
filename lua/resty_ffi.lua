-- The original lua-resty-ffi's entry point: `require "resty_ffi"` (in init_worker_by_lua*)
-- installs ngx.load_ffi. New code can use `require "resty.ffi"` directly, which patches
-- nothing. Both are the same module.

local resty_ffi = require "resty.ffi"

ngx.load_ffi = resty_ffi.load

return resty_ffi

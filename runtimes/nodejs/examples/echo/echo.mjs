// The echo runtime as an ES module: loaded with import(), same contract.
//
//   local rt = ngx.load_ffi("ffi_nodejs", "/path/to/resty-ffi/runtimes/nodejs/examples/echo/echo.mjs,default")

export default function init(cfg) {
  const prefix = Buffer.from(cfg ?? '');
  return (req) => Buffer.concat([prefix, req]);
}

'use strict';
// The smallest Node.js runtime: answers each request with the cfg prefix and the request.
//
//   local rt = ngx.load_ffi("ffi_nodejs", "/path/to/resty-ffi/runtimes/nodejs/examples/echo/echo.js,init,>> ")
//   local ok, res = rt:echo("hello")   -- true, ">> hello"

exports.init = (cfg) => {
  const prefix = Buffer.from(cfg || '');
  console.log(`echo: loaded with prefix "${prefix}"`);
  // The handler gets the request as a Buffer and returns a Buffer (or a string),
  // or a promise of one (an async function).
  return async (req) => Buffer.concat([prefix, req]);
};

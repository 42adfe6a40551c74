'use strict';
// A Node.js runtime doing real work with Node's own http client: each call fans out GET
// requests to an upstream (keep-alive connections, all in flight at once) and answers with
// a JSON summary of what came back: status, size and SHA-256 of each body.
//
//   local rt = ngx.load_ffi("ffi_nodejs",
//       "/path/to/resty-ffi/runtimes/nodejs/examples/http-client/client.js,init," ..
//       '{"base": "http://127.0.0.1:8080", "timeout_ms": 2000}')
//   local ok, res = rt:fetch('{"paths": ["/a", "/b"]}')
//   -- true, '{"results":[{"path":"/a","status":200,"bytes":5,"sha256":"..."}, ...]}'
//   -- an unreachable upstream or a timeout: false, -2 (resty.RC_PANICKED), "connect ECONNREFUSED ..."
//
// When the Lua caller gives up (its call's timeout, a client abort), the call's AbortSignal
// aborts the requests still in flight: their upstream connections are closed at once.
const http = require('http');
const crypto = require('crypto');

exports.init = (cfg) => {
  const { base, timeout_ms: timeoutMs = 2000, max_sockets: maxSockets = 16 } = JSON.parse(cfg || '{}');
  if (typeof base !== 'string' || !/^http:\/\//.test(base)) {
    throw new Error('cfg.base must be an http:// URL');
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets });

  function get(path, signal) {
    return new Promise((resolve, reject) => {
      const request = http.get(new URL(path, base), { agent, timeout: timeoutMs, signal }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`GET ${path}: timed out after ${timeoutMs} ms`)));
      request.on('error', reject);
    });
  }

  console.log(`http-client: upstream ${base}`);

  const handler = async (req, { signal }) => {
    const { paths } = JSON.parse(req.toString());
    if (!Array.isArray(paths)) throw new TypeError('request: {"paths": [...]} expected');
    const results = await Promise.all(paths.map(async (path) => {
      const { status, body } = await get(path, signal);
      const sha256 = crypto.createHash('sha256').update(body).digest('hex');
      return { path, status, bytes: body.length, sha256 };
    }));
    return JSON.stringify({ results });
  };
  // Called after rt:__unload() once the last call was answered: close idle keep-alive sockets.
  handler.onUnload = () => {
    agent.destroy();
    console.log('http-client: unloaded, connections closed');
  };
  return handler;
};

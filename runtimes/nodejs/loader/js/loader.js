'use strict';
// The JS side of libffi_nodejs.so, one instance per nginx worker (see runtimes/nodejs/README.md):
//   - console.*, process.stdout/stderr and uncaught errors go to nginx's error.log;
//   - `require('resty_ffi')` (and globalThis.__resty_ffi) is the runtime API;
//   - load(): ngx.load_ffi("ffi_nodejs", "<module>[?],<export>[,<cfg>]") lands here, loads
//     the module, calls export(cfg, tq) and serves tq with the handler it returns.
const binding = process._linkedBinding('resty_ffi');
const Module = require('module');
const path = require('path');
const util = require('util');
const { Writable } = require('stream');
const { Console } = require('console');
const { pathToFileURL } = require('url');
const { performance } = require('perf_hooks');

const LEVELS = Object.freeze({
  EMERG: 1, ALERT: 2, CRIT: 3, ERR: 4, WARN: 5, NOTICE: 6, INFO: 7, DEBUG: 8,
});

// Answer codes (abi/resty_ffi.h), the same in every language: rc 0 is success, positive rcs
// are the runtime's own, -1..-99 are what the SDKs and loaders answer on their own.
const RCS = Object.freeze({
  RC_ERROR: -1, // an error that carries no code of its own (resty.error(0, msg), a bad answer)
  RC_PANICKED: -2, // the handler threw or rejected (with no rc of its own)
  RC_DROPPED: -3, // the task was dropped without an answer
  RC_NO_MEMORY: -4, // no memory for the request or the answer
  RC_CANCELLED: -5, // the call was cancelled: its caller gave up (the answer is thrown away)
});

// An export returns this instead of a handler when its own code polls tq (worker threads).
const POLLS_ITSELF = Symbol('resty_ffi.POLLS_ITSELF');

function log(level, ...args) {
  binding.log(level, 'node: ' + util.format(...args));
}

// ---- error.log instead of stdio ---------------------------------------------------------

function logStream(level) {
  return new Writable({
    decodeStrings: false,
    write(chunk, _encoding, done) {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      binding.log(level, 'node: ' + text.replace(/\n$/, ''));
      done();
    },
  });
}

const toInfo = logStream(LEVELS.INFO);
const toErr = logStream(LEVELS.ERR);
const mainConsole = new Console({ stdout: toInfo, stderr: toErr, colorMode: false });
for (const key of Object.keys(mainConsole)) {
  if (typeof mainConsole[key] === 'function') console[key] = mainConsole[key];
}
console.debug = new Console({ stdout: logStream(LEVELS.DEBUG), colorMode: false }).log;
console.warn = new Console({ stdout: toInfo, stderr: logStream(LEVELS.WARN), colorMode: false }).warn;
// Worker threads' stdio is piped into these, so their console output lands here too.
for (const [name, stream] of [['stdout', toInfo], ['stderr', toErr]]) {
  Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => stream });
}

// What is said of a thrown value whose getters or traps throw (a poisoned Proxy, say).
const UNDESCRIBABLE = 'a thrown value that cannot be described';

// Never throws: JS code may throw anything, and getters that throw.
function stackText(e) {
  try {
    return (e && typeof e.stack === 'string') ? e.stack : util.inspect(e);
  } catch (_) {
    return UNDESCRIBABLE;
  }
}

// A listener that throws here makes Node abort the whole nginx worker: never throw.
process.on('uncaughtException', (err, origin) => {
  try {
    const what = origin === 'unhandledRejection' ? 'unhandled promise rejection' : 'uncaught exception';
    binding.log(LEVELS.ERR, `node: ${what}: ${stackText(err)}`);
  } catch (_) { /* nothing left to log with */ }
});

// Node's own warnings (deprecations, experimental features) at nginx's warn level.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  let text = UNDESCRIBABLE;
  try {
    text = w && w.name ? `${w.name}: ${w.message}` : util.inspect(w);
  } catch (_) { /* an emitted warning object whose getters throw */ }
  binding.log(LEVELS.WARN, `node: ${text}`);
});

// The process is the nginx worker: a runtime must not end it.
process.exit = function exit(code) {
  throw new Error(`process.exit(${code === undefined ? '' : code}) in a resty-ffi runtime: ` +
                  'the nginx worker is not the runtime\'s to end');
};

// ---- values into answers ----------------------------------------------------------------

function describe(v) {
  if (v === null) return 'null';
  if (typeof v === 'object') {
    let name;
    try {
      name = v.constructor && v.constructor.name;
    } catch (_) {
      return 'an object'; // a constructor getter (or Proxy trap) that throws
    }
    return `an object (${(typeof name === 'string' && name) || 'Object'})`;
  }
  return typeof v === 'undefined' ? 'undefined' : `a ${typeof v}`;
}

function isError(e) {
  return e instanceof Error || util.types.isNativeError(e);
}

// "Name: message" (a syntax error with its file:line), without Node's "Require stack".
function errorText(e) {
  if (!isError(e)) return typeof e === 'string' ? e : util.inspect(e);
  const message = String(e.message).split('\nRequire stack:')[0];
  const text = `${e.name || 'Error'}: ${message}`;
  if (e.name === 'SyntaxError' && typeof e.stack === 'string') {
    const where = e.stack.split('\n', 1)[0];
    if (/:\d+$/.test(where) && !where.startsWith(text)) return `${where}: ${text}`;
  }
  return text;
}

function isRc(rc) {
  return Number.isInteger(rc) && rc !== 0 && rc >= -0x80000000 && rc <= 0x7fffffff;
}

// A thrown value's `rc` (a non-zero int32) is the call's rc; an `rc` that is not one (0, say)
// gives RC_ERROR; a value without an rc, RC_PANICKED.
function errorRc(e) {
  const rc = e !== null && typeof e === 'object' ? e.rc : undefined;
  if (rc === undefined) return RCS.RC_PANICKED;
  return isRc(rc) ? rc : RCS.RC_ERROR;
}

// What an answer says of a thrown value: an Error's message (no "Name: " before it), else
// the value as util.inspect shows it (a string as it is).
function answerText(e) {
  if (!isError(e)) return typeof e === 'string' ? e : util.inspect(e);
  return String(e.message);
}

// errorText(e), or `fallback` when e's getters or traps throw.
function thrownText(e, fallback) {
  try {
    return errorText(e);
  } catch (_) {
    return fallback;
  }
}

// Answers with what the handler threw or rejected with: any value, an Error or not.
function fail(task, e) {
  let rc = RCS.RC_PANICKED;
  try {
    rc = errorRc(e);
  } catch (_) { /* an rc getter that throws */ }
  let text = 'node: the handler threw a value that cannot be described';
  try {
    text = answerText(e);
  } catch (_) { /* a message getter or Proxy trap that throws */ }
  binding.respond(task, rc, text);
}

function answer(task, v) {
  if (v === undefined || v === null || typeof v === 'string' || Buffer.isBuffer(v)) {
    binding.respond(task, 0, v);
  } else if (ArrayBuffer.isView(v)) {
    binding.respond(task, 0, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  } else if (util.types.isAnyArrayBuffer(v)) {
    binding.respond(task, 0, Buffer.from(v));
  } else {
    binding.respond(task, RCS.RC_ERROR, `node: the handler returned ${describe(v)}: ` +
                             'a Buffer, a typed array, a string, null or undefined expected');
  }
}

// The handler's optional `onUnload()` runs once the runtime is unloaded, after its last task.
function unloaded(handler) {
  if (typeof handler.onUnload !== 'function') return;
  Promise.resolve()
    .then(() => handler.onUnload())
    .catch((e) => binding.log(LEVELS.ERR, `node: onUnload failed: ${stackText(e)}`));
}

// ---- deadlines and cancellation ---------------------------------------------------------

// The module's deadlines are CLOCK_MONOTONIC ms; so is process.hrtime(), and performance.now()
// counts from an origin on that clock: this turns the one into the other.
function monotonicToPerformance(ms) {
  return ms - (Number(process.hrtime.bigint()) / 1e6 - performance.now());
}

function cancelReason() {
  const e = new DOMException('the call was cancelled: its caller gave up', 'AbortError');
  e.rc = RCS.RC_CANCELLED;
  return e;
}

// The handler's second argument: the call's deadline and cancellation.
class Call {
  #controller = null;
  #cancelled;

  constructor(deadline, cancelled) {
    // When the caller stops waiting, comparable with performance.now(); null: no timeout.
    this.deadline = deadline;
    this.#cancelled = cancelled;
  }

  // An AbortSignal aborted when the caller gives up (timeout, client abort, the end of its
  // request): hand it to fetch(), http.request(), timers/promises, ... Made on first use.
  get signal() {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#cancelled) this.#controller.abort(cancelReason());
    }
    return this.#controller.signal;
  }

  // True once the caller gave up on the call.
  get cancelled() {
    return this.#cancelled;
  }

  // Milliseconds until the deadline (0 once passed), Infinity without one.
  timeLeft() {
    return this.deadline === null ? Infinity : Math.max(0, this.deadline - performance.now());
  }

  cancel() {
    if (this.#cancelled) return;
    this.#cancelled = true;
    if (this.#controller !== null) this.#controller.abort(cancelReason());
  }
}

// What the poll thread calls for each task, on this loop: every call is answered once.
// (null, null) after the last one: the runtime was unloaded. The cancel thread calls
// `cancel(task)` for a task whose caller gave up.
function makeServer(handler) {
  const calls = new Map(); // task handle (BigInt) -> its Call, until answered

  function done(task, call, v) {
    calls.delete(task);
    answer(task, v);
  }

  function failed(task, call, e) {
    calls.delete(task);
    if (call.cancelled) {
      // Nobody waits for this answer: the module throws it away.
      binding.respond(task, RCS.RC_CANCELLED, 'cancelled');
    } else {
      fail(task, e);
    }
  }

  function serveTask(task, req, deadline, cancelled) {
    if (task === null) {
      unloaded(handler);
      return;
    }
    const call = new Call(deadline === null ? null : monotonicToPerformance(deadline), cancelled === 1);
    let out;
    try {
      out = handler(req, call);
      if (isChunkSource(out)) {
        calls.set(task, call);
        sendChunks(task, call, out)
          .then((v) => done(task, call, v))
          .catch((e) => failed(task, call, e));
        return;
      }
      if (!isThenable(out)) {
        answer(task, out);
        return;
      }
    } catch (e) {
      // the handler threw, or a getter of what it returned did (`then`, `constructor`)
      failed(task, call, e);
      return;
    }
    calls.set(task, call);
    // A native promise adopts any thenable, even one whose then() returns nothing; a then()
    // that throws rejects it. Nothing here throws synchronously.
    new Promise((resolve) => resolve(out))
      .then((v) => done(task, call, v))
      .catch((e) => failed(task, call, e));
  }

  function cancel(task) {
    const call = calls.get(task);
    if (call !== undefined) call.cancel();
  }

  return { serveTask, cancel };
}

// ---- streams ------------------------------------------------------------------------------

// What a streaming handler returns: an async iterator (an async generator's object) or a
// sync one (a generator's); not a string, a Buffer or a typed array, which are answers.
function isChunkSource(v) {
  return v !== null && typeof v === 'object' && typeof v.next === 'function' &&
    (typeof v[Symbol.asyncIterator] === 'function' || typeof v[Symbol.iterator] === 'function');
}

function chunkBuffer(v) {
  if (typeof v === 'string') return Buffer.from(v);
  if (Buffer.isBuffer(v)) return v;
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (util.types.isAnyArrayBuffer(v)) return Buffer.from(v);
  throw new TypeError(`node: the handler yielded ${describe(v)}: ` +
                      'a Buffer, a typed array or a string expected');
}

// Waits before the next try of a full window: the loop's next turn a few times, then 1 ms
// doubling up to 16 ms (the loop never blocks on a slow reader).
function backoff(tries) {
  return new Promise((resolve) => {
    if (tries < 4) setImmediate(resolve);
    else setTimeout(resolve, 1 << Math.min(tries - 4, 4));
  });
}

// Sends every chunk the iterator yields (for a stream call), then resolves to the answer:
// null (the end of the stream), or for a plain call the chunks joined. When the caller
// stops reading, the iterator is closed (its finally blocks run) and the call is cancelled.
async function sendChunks(task, call, chunks) {
  const streaming = binding.streaming(task) === 1;
  const parts = [];
  for await (const v of chunks) {
    const chunk = chunkBuffer(v);
    if (!streaming) {
      parts.push(chunk);
      continue;
    }
    for (let tries = 0; ; tries++) {
      if (call.cancelled) throw cancelReason();
      const rc = binding.trySend(task, chunk);
      if (rc === 0) break;
      if (rc === RCS.RC_CANCELLED) {
        call.cancel();
        throw cancelReason();
      }
      if (rc !== 1) throw new Error('node: the module refused a chunk of this stream');
      await backoff(tries);
    }
  }
  return streaming ? null : Buffer.concat(parts);
}

function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

// ---- loading ----------------------------------------------------------------------------

let freshLoads = 0;

// A path (absolute, or relative to the working directory) or a package name, resolved as
// require() resolves it from the working directory. CommonJS is required, ES modules are
// imported; `fresh` evaluates the module again.
async function importModule(spec, fresh) {
  const req = Module.createRequire(path.join(process.cwd(), '[resty_ffi]'));
  let file;
  try {
    file = req.resolve(spec);
  } catch (e) {
    // An ES-only package (no "require" condition in its "exports"): import() resolves it.
    if (e && e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return import(spec);
    throw e;
  }
  if (!path.isAbsolute(file)) return req(file); // a built-in module
  const url = () => pathToFileURL(file).href + (fresh ? `?resty_ffi_load=${++freshLoads}` : '');
  if (file.endsWith('.mjs')) return import(url());
  if (fresh) delete Module._cache[file];
  try {
    return req(file);
  } catch (e) {
    if (e && e.code === 'ERR_REQUIRE_ESM') return import(url());
    throw e;
  }
}

function pickExport(ns, name, spec) {
  let owner = ns;
  let fn = ns == null ? undefined : ns[name];
  // import() of a CommonJS module: its exports object is the namespace's default.
  if (fn === undefined && ns != null && ns.default !== null && typeof ns.default === 'object') {
    owner = ns.default;
    fn = owner[name];
  }
  // `module.exports = function` loaded as "<module>,default".
  if (fn === undefined && name === 'default' && typeof ns === 'function') {
    owner = undefined;
    fn = ns;
  }
  if (typeof fn !== 'function') {
    throw new TypeError(`${spec} has no function export "${name}" (it is ${describe(fn)})`);
  }
  return (cfg, tq) => fn.call(owner, cfg, tq);
}

async function load(id, spec, exportName, cfg, tq, fresh) {
  let error = null;
  try {
    const make = pickExport(await importModule(spec, fresh), exportName, spec);
    const handler = await make(cfg, tq);
    if (typeof handler === 'function') {
      const { serveTask, cancel } = makeServer(handler);
      binding.serve(tq, serveTask, cancel);
    } else if (handler !== POLLS_ITSELF) {
      throw new TypeError(`${exportName}() returned ${describe(handler)}: a handler function ` +
                          '(or require(\'resty_ffi\').POLLS_ITSELF) expected');
    }
  } catch (e) {
    // loadDone must come whatever was thrown: libffi_init waits for it
    error = `${spec}: ${thrownText(e, UNDESCRIBABLE)}`;
    try {
      if (isError(e)) binding.log(LEVELS.INFO, `node: ${spec}: ${stackText(e)}`);
    } catch (_) { /* a Proxy whose traps throw */ }
  }
  binding.loadDone(id, error);
}

// ---- the runtime API: require('resty_ffi') ----------------------------------------------

// An Error to throw (or reject with) that answers `false, rc, message`; an rc that is not a
// non-zero int32 (0, undefined) gives RC_ERROR.
function error(rc, message) {
  const e = new Error(message);
  e.rc = isRc(rc) ? rc : RCS.RC_ERROR;
  return e;
}

// Shared dictionaries: sharedDict(name) is a lua_shared_dict zone, the values and expiry
// Lua's ngx.shared.DICT sees. Values: Buffer (a string is stored as UTF-8), number, boolean;
// get gives a Buffer, a number, a boolean or null. Times in seconds as in Lua (0: never).
function shdictCall(f) {
  try {
    return f();
  } catch (e) {
    throw new Error(String(e && e.message).replace(/^resty_ffi: /, ''));
  }
}

function sharedDict(name) {
  const h = shdictCall(() => binding.shdictOpen(String(name)));
  const ms = (ttl) => {
    const t = ttl === undefined ? 0 : Number(ttl);
    if (!(t >= 0)) throw new TypeError('ttl: seconds >= 0 expected');
    return t * 1000;
  };
  const store = (op, key, value, ttl, flags) => {
    let type; let buf = null; let num = 0;
    if (value === null || value === undefined) type = 0;
    else if (typeof value === 'boolean') { type = 1; num = value ? 1 : 0; }
    else if (typeof value === 'number') { type = 3; num = value; }
    else if (typeof value === 'string') { type = 4; buf = Buffer.from(value, 'utf8'); }
    else if (value instanceof Uint8Array) { type = 4; buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength); }
    else throw new TypeError('a shared dictionary value is a Buffer, string, number or boolean');
    return shdictCall(() => binding.shdictStore(h, op, key, type, buf, num, ms(ttl), Number(flags) || 0));
  };
  const getWithFlags = (key) => {
    const r = shdictCall(() => binding.shdictGet(h, key));
    if (r === null) return { value: null, flags: 0 };
    const [type, flags, num, buf] = r;
    return { value: type === 1 ? num !== 0 : type === 3 ? num : buf, flags };
  };
  return Object.freeze({
    name: String(name),
    get: (key) => getWithFlags(key).value,
    getWithFlags,
    // set/safeSet: true when valid items were evicted for room; add/replace: false when the
    // key exists (add) or does not (replace).
    set: (key, value, ttl, flags) => store(0, key, value, ttl, flags) === 1,
    safeSet: (key, value, ttl, flags) => store(4, key, value, ttl, flags) === 1,
    add: (key, value, ttl, flags) => store(1, key, value, ttl, flags) < 2,
    replace: (key, value, ttl, flags) => store(2, key, value, ttl, flags) < 2,
    delete: (key) => { store(0, key, null); },
    // incr(key, delta[, init[, initTtl]]): the new value; throws "not found" for a missing key
    // without init, "not a number".
    incr: (key, delta, init, initTtl) => shdictCall(() => binding.shdictIncr(h, key, Number(delta),
      init === undefined ? 0 : 1, init === undefined ? 0 : Number(init), ms(initTtl))),
    // ttl(key): seconds left, 0 never expires, null when the key is not there.
    ttl: (key) => {
      const left = shdictCall(() => binding.shdictTtl(h, key));
      return left < 0 ? null : left / 1000;
    },
    // expire(key, ttl): false when the key is not there.
    expire: (key, ttl) => shdictCall(() => binding.shdictExpire(h, key, ms(ttl))) === 0,
  });
}

const api = Object.freeze({
  ...LEVELS,
  LEVELS,
  ...RCS,
  log,
  error,
  POLLS_ITSELF,
  // The raw task API, as the original lua-resty-ffi exposed it (handles are BigInts).
  // poll and pollBatch block: call them from worker threads only.
  poll: binding.poll,
  pollBatch: binding.pollBatch,
  getReq: binding.getReq,
  respond: binding.respond,
  // Deadlines and cancellation of raw tasks: cancelled(task) is a boolean; deadline(task) is
  // comparable with performance.now() (null without a timeout); cancelPoll(tq, max) blocks
  // until tasks this runtime holds are cancelled (an empty array once unloaded).
  cancelled: (task) => binding.cancelled(task) === 1,
  deadline: (task) => {
    const ms = binding.deadline(task);
    return ms === null ? null : monotonicToPerformance(ms);
  },
  cancelPoll: binding.cancelPoll,
  sharedDict,
});

Object.defineProperty(globalThis, '__resty_ffi', { value: api, configurable: false, enumerable: false });

const originalLoad = Module._load;
Module._load = function _load(request, parent, isMain) {
  if (request === 'resty_ffi') return api;
  return originalLoad.call(this, request, parent, isMain);
};

binding.attachLoader(load);

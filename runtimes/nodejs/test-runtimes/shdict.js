'use strict';
// t/029-shared-dict-sdks.t: resty_ffi.sharedDict with the "shd ..." commands of the Rust and
// Go SDK test runtimes (errors answer rc 1 with the message).
const resty = require('resty_ffi');

function shd(req) {
  // "shd <op> <dict> <key> <rest...>": the raw value (any bytes) is what follows the 6th space.
  const text = req.toString('latin1');
  const p = text.split(' ');
  const [, op, name] = p;
  const key = p[3] === undefined ? '' : p[3];
  const d = resty.sharedDict(name);
  if (['set', 'add', 'replace', 'safe_set'].includes(op)) {
    let at = 0;
    for (let i = 0; i < 6; i++) at = req.indexOf(0x20, at) + 1;
    const raw = req.subarray(at);
    const type = p[5];
    const value = type === 'string' ? raw : type === 'number' ? Number(raw.toString('latin1'))
      : raw.toString('latin1') === 'true';
    const ttl = Number(p[4]) / 1000;
    if (op === 'set') d.set(key, value, ttl);
    else if (op === 'safe_set') d.safeSet(key, value, ttl);
    else if (op === 'add' && !d.add(key, value, ttl)) return 'exists';
    else if (op === 'replace' && !d.replace(key, value, ttl)) return 'not found';
    return 'stored';
  }
  switch (op) {
    case 'get': {
      const { value, flags } = d.getWithFlags(key);
      if (value === null) return `nil  flags=${flags}`;
      if (typeof value === 'boolean') return `boolean ${value} flags=${flags}`;
      if (typeof value === 'number') return `number ${value} flags=${flags}`;
      return Buffer.concat([Buffer.from('string '), value, Buffer.from(` flags=${flags}`)]);
    }
    case 'delete': d.delete(key); return 'deleted';
    case 'incr': {
      const delta = Number(p[4]);
      if (p[5] !== undefined && p[5] !== '') {
        return String(d.incr(key, delta, Number(p[5]), p[6] === undefined ? 0 : Number(p[6]) / 1000));
      }
      return String(d.incr(key, delta));
    }
    case 'ttl': {
      const t = d.ttl(key);
      if (t === null) return 'not found';
      return t === 0 ? 'never' : String(Math.round(t * 1000));
    }
    case 'expire': return d.expire(key, Number(p[4]) / 1000) ? 'expired' : 'not found';
    default: throw resty.error(22, 'unknown shd command');
  }
}

exports.init = () => (req) => {
  try {
    return shd(req);
  } catch (e) {
    if (e && e.rc) throw e;
    throw resty.error(1, String(e && e.message));
  }
};

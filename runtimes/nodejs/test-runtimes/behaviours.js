'use strict';
// The t/050-nodejs.t test runtime: the request is a command, "<verb> <argument>".
const resty = require('resty_ffi');

exports.init = (cfg) => {
  const holdTarget = Number(cfg) || 0;   // "hold": answer once this many holds are in flight
  const held = [];

  function hold() {
    return new Promise((resolve) => {
      held.push(resolve);
      if (held.length >= holdTarget) {
        const n = held.length;
        for (const r of held.splice(0)) r(`released with ${n} in flight`);
      }
    });
  }

  let calls = 0;
  const handler = async (req) => {
    calls += 1;
    const text = req.toString('latin1');
    const space = text.indexOf(' ');
    const verb = space < 0 ? text : text.slice(0, space);
    const arg = space < 0 ? '' : text.slice(space + 1);
    switch (verb) {
      case 'echo': return req.subarray(space + 1);
      case 'hold': return hold();
      case 'throw': throw new Error(arg);
      case 'throw-string': throw arg;
      case 'reject': return Promise.reject(new TypeError(arg));
      case 'rc': throw resty.error(Number(arg), `failed with rc ${arg}`);
      case 'object': return { not: 'bytes' };
      case 'rcs': return [resty.RC_ERROR, resty.RC_PANICKED, resty.RC_DROPPED, resty.RC_NO_MEMORY,
                          resty.RC_CANCELLED].join(' ');
      case 'nothing': return undefined;
      case 'empty': return '';
      case 'bytes': return Uint8Array.from({ length: 256 }, (_, i) => i);
      case 'exit': process.exit(3); return 'still here';
      case 'later': return new Promise((resolve) => setTimeout(() => resolve(`later ${arg}`), Number(arg)));
      case 'uncaught':
        setTimeout(() => { throw new Error('thrown from a timer'); }, 0);
        Promise.reject(new Error('nobody catches this'));
        return 'scheduled';
      case 'log':
        console.log('console.log %s', arg);
        console.info('console.info', { arg });
        console.debug('console.debug');
        console.warn('console.warn', arg);
        console.error('console.error', arg);
        resty.log(resty.NOTICE, 'resty.log notice %d', 42);
        process.stdout.write('process.stdout ' + arg + '\n');
        process.emitWarning('an emitted warning', 'DeprecationWarning');
        return 'logged';
      default: throw new Error(`unknown command "${verb}"`);
    }
  };
  handler.onUnload = () => console.log(`behaviours: unloaded after ${calls} call(s)`);
  return handler;
};

// A handler that throws synchronously (not an async function).
exports.sync = () => (req) => {
  if (req.length === 0) throw new RangeError('empty request');
  return req.toString().toUpperCase();
};

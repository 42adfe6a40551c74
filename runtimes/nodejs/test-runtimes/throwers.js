'use strict';
// t/050-nodejs.t: handlers that throw or reject with values that are not Errors, and values
// whose getters throw. The request is "<verb>"; "echo <text>" answers <text>.

// Every trap throws: even `instanceof` and `typeof x.then` fail on it.
function poisoned() {
  const trap = () => { throw new Error('poisoned proxy'); };
  return new Proxy({}, {
    get: trap, has: trap, getPrototypeOf: trap, ownKeys: trap, getOwnPropertyDescriptor: trap,
  });
}

function thrownValue(verb) {
  switch (verb) {
    case 'string': return 'a plain string';
    case 'number': return 42;
    case 'null': return null;
    case 'undefined': return undefined;
    case 'object': return { code: 'E_OBJ', detail: [1, 2] };
    case 'symbol': return Symbol('sym');
    case 'bigint': return 10n;
    case 'rc-object': return { rc: 7, why: 'a plain object with an rc' };
    case 'message-getter': {
      const e = new Error('unused');
      Object.defineProperty(e, 'message', { get() { throw new Error('message getter'); } });
      return e;
    }
    case 'rc-getter': {
      const e = new TypeError('rc getter');
      Object.defineProperty(e, 'rc', { get() { throw new Error('rc getter threw'); } });
      return e;
    }
    case 'proxy': return poisoned();
    default: return new Error(`unknown value "${verb}"`);
  }
}

function split(req) {
  const text = req.toString();
  const space = text.indexOf(' ');
  return space < 0 ? [text, ''] : [text.slice(0, space), text.slice(space + 1)];
}

// A synchronous handler: "throw-<value>", and answers that cannot be read.
exports.sync = () => (req) => {
  const [verb, arg] = split(req);
  if (verb === 'echo') return arg;
  if (verb.startsWith('throw-')) throw thrownValue(verb.slice(6));
  switch (verb) {
    case 'then-getter':
      return { get then() { throw new Error('then getter'); } };
    case 'then-throws':
      return { then() { throw new RangeError('then threw'); } };
    case 'thenable':
      // a thenable whose then() returns nothing and resolves later
      return { then(resolve) { setTimeout(() => resolve('thenable resolved'), 5); } };
    case 'constructor-getter':
      return { get constructor() { throw new Error('constructor getter'); } };
    case 'return-proxy':
      return poisoned();
    default:
      throw new Error(`unknown command "${verb}"`);
  }
};

// An async handler: "throw-<value>" inside it, "reject-<value>" as a returned promise.
exports.async = () => async (req) => {
  const [verb, arg] = split(req);
  await null;
  if (verb === 'echo') return arg;
  if (verb.startsWith('throw-')) throw thrownValue(verb.slice(6));
  if (verb.startsWith('reject-')) return Promise.reject(thrownValue(verb.slice(7)));
  switch (verb) {
    case 'constructor-getter':
      return { get constructor() { throw new Error('constructor getter'); } };
    case 'return-proxy':
      return poisoned();
    default:
      throw new Error(`unknown command "${verb}"`);
  }
};

// Exports that throw a value that cannot be described, synchronously or as a rejection.
exports.initThrowsProxy = () => { throw poisoned(); };
exports.initRejectsProxy = async () => { throw poisoned(); };
exports.initThrowsNull = () => { throw null; };

// Uncaught exceptions outside any call, with values that cannot be described.
exports.uncaught = () => (req) => {
  const [verb] = split(req);
  if (verb === 'timer-proxy') setTimeout(() => { throw poisoned(); }, 0);
  if (verb === 'reject-proxy') Promise.reject(poisoned());
  if (verb === 'timer-stack-getter') {
    setTimeout(() => { throw { get stack() { throw new Error('stack getter'); } }; }, 0);
  }
  return 'scheduled';
};

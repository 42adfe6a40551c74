'use strict';
// The t/031-stream-sdks.t runtime for streams: a handler that returns an async generator's
// iterator streams what it yields. The request is a command:
//   stream <n> <size>   n chunks "i:abc..." of size bytes
//   stream_fail <n>     n chunks of 8 bytes, then throws an error with rc 7 "went wrong"
//   stream_ticks <ms>   "tick i" every ms until the caller stops reading (the generator's
//                       finally counts it)
//   stream_cancels      how many stream_ticks were stopped so (a plain answer)
//   sync <n>            a sync generator's n chunks "i:ab" (4 bytes each)
// A plain call (rt:x(req)) of a streaming command gets the chunks joined.
const { setTimeout: sleep } = require('timers/promises');

function chunkOf(i, size) {
  let c = `${i}:`;
  for (let n = c.length; n < size; n++) c += String.fromCharCode(97 + (n % 26));
  return c.slice(0, size);
}

exports.init = () => {
  let stopped = 0;

  async function* stream(n, size) {
    for (let i = 0; i < n; i++) yield chunkOf(i, size);
  }

  async function* streamFail(n) {
    for (let i = 0; i < n; i++) yield Buffer.from(chunkOf(i, 8));
    const e = new Error('went wrong');
    e.rc = 7;
    throw e;
  }

  async function* ticks(ms) {
    try {
      for (let i = 0; ; i++) {
        yield `tick ${i}`;
        await sleep(ms);
      }
    } finally {
      stopped += 1; // the loop never ends on its own: the caller stopped reading
    }
  }

  function* sync(n) {
    for (let i = 0; i < n; i++) yield chunkOf(i, 4);
  }

  return (req) => {
    const [verb, a, b] = req.toString().split(' ');
    switch (verb) {
      case 'stream': return stream(Number(a), Number(b));
      case 'stream_fail': return streamFail(Number(a));
      case 'stream_ticks': return ticks(Number(a));
      case 'stream_cancels': return String(stopped);
      case 'sync': return sync(Number(a));
      default: {
        const e = new Error(`unknown command ${verb}`);
        e.rc = 22;
        throw e;
      }
    }
  };
};

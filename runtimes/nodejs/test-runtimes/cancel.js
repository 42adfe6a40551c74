'use strict';
// The t/050-nodejs.t runtime for deadlines and cancellation: the request is a command.
//   wait <ms>      sleeps up to ms with the call's AbortSignal (timers/promises): when the
//                  caller gives up it counts and lets the AbortError out, else answers
//                  "not cancelled"
//   listen <ms>    waits up to ms for the signal's 'abort' event, then rejects with its reason
//   listen_mark <dict> <key> <ms>
//                  as listen, and the 'abort' listener marks the abort in a shared dict (key =
//                  the Unix time in seconds, a number, when it ran): the zone outlives a worker
//                  that exits while the call waits (t/050's worker exit test)
//   deadline       ms left until the call's deadline (call.timeLeft()), or "none"
//   clock          "same" when call.deadline - performance.now() agrees with timeLeft()
//   seen           "aborted=N flagged=M": calls that saw their abort, and how many of them
//                  found call.cancelled true then
const { setTimeout: sleep } = require('timers/promises');
const { performance } = require('perf_hooks');
const resty = require('resty_ffi');

exports.init = () => {
  const seen = { aborted: 0, flagged: 0 };

  function count(call) {
    seen.aborted += 1;
    if (call.cancelled && call.signal.aborted) seen.flagged += 1;
  }

  return async (req, call) => {
    const text = req.toString();
    const space = text.indexOf(' ');
    const verb = space < 0 ? text : text.slice(0, space);
    const arg = space < 0 ? '' : text.slice(space + 1);
    switch (verb) {
      case 'wait':
        try {
          await sleep(Number(arg), null, { signal: call.signal });
        } catch (e) {
          if (e.name === 'AbortError') count(call);
          throw e;
        }
        return 'not cancelled';
      case 'listen':
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => resolve('not cancelled'), Number(arg));
          call.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            count(call);
            reject(call.signal.reason);
          });
        });
      case 'listen_mark': {
        const [name, key, ms] = arg.split(' ');
        const dict = resty.sharedDict(name);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => resolve('not cancelled'), Number(ms));
          call.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            dict.set(key, (performance.timeOrigin + performance.now()) / 1000);
            count(call);
            reject(call.signal.reason);
          });
        });
      }
      case 'deadline':
        return call.deadline === null ? 'none' : String(Math.round(call.timeLeft()));
      case 'clock': {
        const diff = Math.abs(call.deadline - performance.now() - call.timeLeft());
        return diff < 5 ? 'same' : `differs by ${diff} ms`;
      }
      case 'seen':
        return `aborted=${seen.aborted} flagged=${seen.flagged}`;
      default:
        throw new Error(`unknown command "${verb}"`);
    }
  };
};

'use strict';
// Exports that fail to make a handler (t/050-nodejs.t, failing loads).
exports.throws = (cfg) => { throw new Error(`no database at "${cfg}"`); };
exports.rejects = async () => { throw new RangeError('async setup failed'); };
exports.notAHandler = () => 42;
exports.slowSetup = async (cfg) => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return (req) => `${cfg}: ${req}`;
};
exports.notAFunction = 'just a string';

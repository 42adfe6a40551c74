'use strict';
// A runtime that polls its task queue itself, from a worker thread, with the raw task API
// (as the original lua-resty-ffi's Node runtimes did).
const { Worker } = require('worker_threads');
const resty = require('resty_ffi');

exports.init = (cfg, tq) => {
  const worker = new Worker(`
    const { workerData } = require('worker_threads');
    const b = process._linkedBinding('resty_ffi');
    for (;;) {
      const tasks = b.pollBatch(workerData.tq, 16);   // blocks this worker thread only
      if (tasks.length === 0) break;                   // the runtime was unloaded
      for (const task of tasks) {
        const req = b.getReq(task);
        b.respond(task, 0, workerData.prefix + req.toString().toUpperCase());
      }
    }
    console.log('self-poll worker: queue unloaded, leaving');
  `, { eval: true, workerData: { tq, prefix: cfg || '' } });
  worker.unref();
  return resty.POLLS_ITSELF;
};

'use strict';
// Run by node::LoadEnvironment (cpp/node_embed.cc) with Node's internal `require`. It
// compiles the loader (js/loader.js, carried by the binding) as an ordinary CommonJS module
// of the working directory, so that the loader can require() user modules and import() ES
// modules like any module can.
const Module = require('module');
const path = require('path');

const binding = process._linkedBinding('resty_ffi');
const filename = path.join(process.cwd(), '[resty_ffi loader].js');
const loader = new Module(filename, null);
loader.filename = filename;
loader.paths = Module._nodeModulePaths(process.cwd());
loader._compile(binding.loaderSource, filename);

'use strict';
// Loads the test's native addon (cfg: its path) and answers with what it says.
exports.init = (cfg) => {
  const addon = require(cfg);
  return () => addon.hello();
};

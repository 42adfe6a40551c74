'use strict';
exports.init = () => (req) => req;
this is not javascript )

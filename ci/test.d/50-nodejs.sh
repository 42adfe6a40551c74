# Sourced by ci/test.sh: where t/050-nodejs.t finds the Node.js examples and test runtimes.
export TEST_NGINX_NODE_EXAMPLES=$REPO_ROOT/examples/nodejs
export TEST_NGINX_NODE_TESTS=$REPO_ROOT/t/nodejs
export TEST_NGINX_NODE_ADDON=$RESTY_FFI_BUILD/nodejs/hello.node

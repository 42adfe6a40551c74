# The Node.js wing's test environment, sourced by ci/test.sh: where t/050-nodejs.t finds the
# Node.js examples, the test runtimes and the N-API addon (built by build.sh).
export TEST_NGINX_NODE_EXAMPLES=$REPO_ROOT/runtimes/nodejs/examples
export TEST_NGINX_NODE_TESTS=$REPO_ROOT/runtimes/nodejs/test-runtimes
export TEST_NGINX_NODE_ADDON=$RESTY_FFI_BUILD/nodejs/hello.node

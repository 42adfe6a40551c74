# The Python wing's test environment, sourced by ci/test.sh: where t/030-python.t finds the
# venv (made by build.sh), the Python examples and the Python test runtimes.
export TEST_NGINX_PY_VENV=$RESTY_FFI_BUILD/pyvenv
export TEST_NGINX_PY_EXAMPLES=$REPO_ROOT/runtimes/python/examples
export TEST_NGINX_PY_TESTS=$REPO_ROOT/runtimes/python/test-runtimes

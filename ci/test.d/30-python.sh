# Sourced by ci/test.sh: where t/030-python.t finds the venv and the Python examples.
export TEST_NGINX_PY_VENV=$RESTY_FFI_BUILD/pyvenv
export TEST_NGINX_PY_EXAMPLES=$REPO_ROOT/examples/python
export TEST_NGINX_PY_TESTS=$REPO_ROOT/t/python

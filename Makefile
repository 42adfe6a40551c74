# One front end for the project's scripts. The README's two commands (bash ci/demo.sh,
# bash ci/test.sh) stay what they are; these targets name the steps. nginx's own build
# (./configure --add-dynamic-module) uses `config`, not this file.

.PHONY: setup build test package install bench demo

setup:
	bash ci/setup.sh

build: setup
	bash ci/build.sh

test:
	bash ci/test.sh

# The module's .deb (ci/deb.sh) and one per loader (ci/deb-loaders.sh), in $RESTY_FFI_BUILD/deb.
package: build
	bash ci/deb.sh
	bash ci/deb-loaders.sh

# PREFIX (default /usr/local) and DESTDIR as usual; see ci/install.sh.
install: build
	bash ci/install.sh

bench:
	bash bench/run.sh

demo:
	bash ci/demo.sh

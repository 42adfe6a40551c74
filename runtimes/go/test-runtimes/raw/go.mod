module github.com/resty-ffi/resty-ffi/runtimes/go/test-runtimes/raw

go 1.19

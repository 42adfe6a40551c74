module github.com/resty-ffi/resty-ffi/runtimes/go/examples/transform

go 1.19

require github.com/resty-ffi/resty-ffi/runtimes/go/sdk v0.0.0

replace github.com/resty-ffi/resty-ffi/runtimes/go/sdk => ../../sdk

module github.com/resty-ffi/resty-ffi/runtimes/go/sdk

go 1.19

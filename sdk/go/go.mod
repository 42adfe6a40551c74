module github.com/resty-ffi/resty-ffi/sdk/go

go 1.19

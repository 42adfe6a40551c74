module github.com/resty-ffi/resty-ffi/examples/go/fetch

go 1.19

require github.com/resty-ffi/resty-ffi/sdk/go v0.0.0

replace github.com/resty-ffi/resty-ffi/sdk/go => ../../../sdk/go

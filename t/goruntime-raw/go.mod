module github.com/resty-ffi/resty-ffi/t/goruntime-raw

go 1.19

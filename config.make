# Sourced by nginx's auto/make after it wrote objs/Makefile (see ./config):
# cargo builds the static library on every make (it tracks the Rust sources
# itself) and the module (or nginx) links it.

if [ "$resty_ffi_link" = DYNAMIC ]; then
    resty_ffi_target=$NGX_OBJS/ngx_http_resty_ffi_module$ngx_modext
else
    resty_ffi_target=$NGX_OBJS/nginx$ngx_binext
fi

cat << END                                                >> $NGX_MAKEFILE

# ngx_http_resty_ffi_module (Rust)

$resty_ffi_lib:	resty_ffi_force
	sh $resty_ffi_dir/ci/nginx-addon-build.sh \\
		$resty_ffi_src $resty_ffi_objs \\
		$resty_ffi_objs/addon/resty_ffi/libngx_http_resty_ffi_module.a

resty_ffi_force:

$resty_ffi_target:	$resty_ffi_lib

END

package demo.jnr;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.byref.IntByReference;

/**
 * A runtime written the original lua-resty-ffi way: jnr-ffi (from Maven Central) calls the
 * module's C task API directly, without resty-ffi.jar. Echoes every request.
 *
 * <pre>
 * local rt = ngx.load_ffi("ffi_java", "demo.jnr.App,init,")
 * </pre>
 */
public final class App {
    /** The runtime ABI, exported by the resty-ffi module (loaded globally by nginx). */
    public interface TaskApi {
        Pointer ngx_http_lua_ffi_task_poll(Pointer tq);

        Pointer ngx_http_lua_ffi_get_req(Pointer task, IntByReference len);

        void ngx_http_lua_ffi_respond(Pointer task, int rc, Pointer rsp, int rspLen);
    }

    /** The response is malloc()ed: the module frees it. */
    public interface LibC {
        Pointer malloc(long size);
    }

    private App() {
    }

    public static int init(String cfg, long tq) {
        TaskApi api = LibraryLoader.create(TaskApi.class).searchDefault().failImmediately().load();
        LibC libc = LibraryLoader.create(LibC.class).failImmediately().load("c");
        Pointer queue = Pointer.wrap(Runtime.getSystemRuntime(), tq);
        Thread poller = new Thread(() -> serve(api, libc, queue), "jnr-echo");
        poller.setDaemon(true);
        poller.start();
        return 0;
    }

    private static void serve(TaskApi api, LibC libc, Pointer queue) {
        IntByReference len = new IntByReference();
        for (;;) {
            Pointer task = api.ngx_http_lua_ffi_task_poll(queue);
            if (task == null) {
                return; // unloaded
            }
            Pointer req = api.ngx_http_lua_ffi_get_req(task, len);
            int n = len.intValue();
            Pointer rsp = libc.malloc(Math.max(n, 1));
            if (rsp == null) {
                api.ngx_http_lua_ffi_respond(task, -4, null, 0); // RESTY_FFI_RC_NO_MEMORY
                continue;
            }
            byte[] bytes = new byte[n];
            req.get(0, bytes, 0, n);
            rsp.put(0, bytes, 0, n);
            if (n == 0) {
                rsp.putByte(0, (byte) 0); // "" rather than nil
            }
            api.ngx_http_lua_ffi_respond(task, 0, rsp, n);
        }
    }
}

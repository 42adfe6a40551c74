package demo.echo;

import java.nio.charset.StandardCharsets;

import resty.ffi.Server;

/**
 * The smallest Java runtime: answers every call with its request, after the prefix given in
 * cfg. Four threads serve calls, so a slow call does not hold up the others.
 *
 * <pre>
 * local rt = ngx.load_ffi("ffi_java", "demo.echo.App,init,echo: ")
 * rt:echo("hello")  --> true, "echo: hello"
 * </pre>
 */
public final class App {
    private App() {
    }

    public static int init(String cfg, long tq) {
        byte[] prefix = cfg.getBytes(StandardCharsets.UTF_8);
        Server.serve(tq, req -> {
            byte[] rsp = new byte[prefix.length + req.length];
            System.arraycopy(prefix, 0, rsp, 0, prefix.length);
            System.arraycopy(req, 0, rsp, prefix.length, req.length);
            return rsp;
        }, 4);
        return 0;
    }
}

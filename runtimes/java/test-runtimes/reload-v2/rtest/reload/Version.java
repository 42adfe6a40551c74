package rtest.reload;

import java.nio.charset.StandardCharsets;

import resty.ffi.Server;

/** Version 2 of a runtime reloaded with the "?" form; Text is another class of its package. */
public final class Version {
    private Version() {
    }

    public static int init(String cfg, long tq) {
        Server.serve(tq, req -> (Text.value() + " " + Version.class.getClassLoader().getName())
                .getBytes(StandardCharsets.UTF_8), 1);
        return 0;
    }
}

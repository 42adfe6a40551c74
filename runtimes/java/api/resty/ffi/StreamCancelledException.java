package resty.ffi;

import java.io.IOException;

/**
 * A send on a stream whose caller stopped reading ({@code s:close()} in Lua, its timeout, its
 * request ended): send no more. A handler of {@link Server} that lets it out answers
 * {@link Task#RC_CANCELLED} (the answer is thrown away).
 */
public final class StreamCancelledException extends IOException {
    private static final long serialVersionUID = 1L;

    public StreamCancelledException() {
        super("the caller stopped reading the stream");
    }
}

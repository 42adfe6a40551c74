package resty.ffi;

import java.util.concurrent.CompletionStage;

/**
 * Serves one call with {@link Server#serveAsync}: called on the polling thread, it must not
 * block; it starts the work and returns a stage that completes with the response bytes (or
 * exceptionally, as with {@link Handler}). Any number of calls may be in flight.
 */
@FunctionalInterface
public interface AsyncHandler {
    CompletionStage<byte[]> handle(byte[] request) throws Exception;
}

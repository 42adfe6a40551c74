package resty.ffi;

/**
 * Serves one call with {@link Server#serve}: returns the response bytes (null reads as nil in
 * Lua). A {@link TaskException} answers with its rc and message; any other exception or error
 * answers with rc {@link Task#RC_PANICKED} (-2) and the exception's text, and is logged.
 */
@FunctionalInterface
public interface Handler {
    byte[] handle(byte[] request) throws Exception;
}

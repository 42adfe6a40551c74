package resty.ffi;

/**
 * A shared dictionary call failed: no such lua_shared_dict, "not found" (incr without an
 * initial value), "not a number", "no memory", an empty or too long key, ...
 */
public class SharedDictException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SharedDictException(String message) {
        super(message);
    }
}

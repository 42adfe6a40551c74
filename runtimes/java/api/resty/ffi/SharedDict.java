package resty.ffi;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One of nginx's shared dictionaries (lua_shared_dict), from any thread: what Java stores is
 * what ngx.shared.DICT:get() reads in Lua, in every worker, and back. Values are byte[]
 * (Lua strings; a String is stored as UTF-8), Double (any Number is stored as a double) and
 * Boolean. Times are milliseconds, 0: never expires. Failures throw {@link SharedDictException}.
 */
public final class SharedDict {
    /** A value and its user flags. */
    public static final class Entry {
        public final Object value;
        public final int flags;

        Entry(Object value, int flags) {
            this.value = value;
            this.flags = flags;
        }
    }

    private static final int SET = 0, ADD = 1, REPLACE = 2, SAFE_SET = 4;
    private static final int NIL = 0, BOOLEAN = 1, NUMBER = 3, STRING = 4;

    private final long handle;
    private final String name;

    private SharedDict(long handle, String name) {
        this.handle = handle;
        this.name = name;
    }

    /** The zone of {@code lua_shared_dict name ...;}. */
    public static SharedDict open(String name) {
        return new SharedDict(Native.shdictOpen(utf8(name)), name);
    }

    public String name() {
        return name;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** byte[], Double, Boolean, or null when absent or expired. */
    public Object get(String key) {
        Entry e = getEntry(key);
        return e == null ? null : e.value;
    }

    /** The value with its flags, or null when absent or expired. */
    public Entry getEntry(String key) {
        byte[] raw = Native.shdictGet(handle, utf8(key));
        if (raw == null) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(raw);
        int type = b.get();
        int flags = b.getInt();
        switch (type) {
            case BOOLEAN:
                return new Entry(b.getDouble() != 0, flags);
            case NUMBER:
                return new Entry(b.getDouble(), flags);
            default:
                return new Entry(Arrays.copyOfRange(raw, 5, raw.length), flags);
        }
    }

    private int store(int op, String key, Object value, long ttlMs, int flags) {
        int type;
        byte[] str = null;
        double num = 0;
        if (value == null) {
            type = NIL;
        } else if (value instanceof byte[]) {
            type = STRING;
            str = (byte[]) value;
        } else if (value instanceof String) {
            type = STRING;
            str = utf8((String) value);
        } else if (value instanceof Boolean) {
            type = BOOLEAN;
            num = (Boolean) value ? 1 : 0;
        } else if (value instanceof Number) {
            type = NUMBER;
            num = ((Number) value).doubleValue();
        } else {
            throw new IllegalArgumentException("a shared dictionary value is byte[], String, Number or Boolean");
        }
        if (ttlMs < 0) {
            throw new IllegalArgumentException("ttlMs < 0");
        }
        return Native.shdictStore(handle, op, utf8(key), type, str, num, ttlMs, flags);
    }

    /** Stores (evicting the oldest items if the zone is full); true if valid items were evicted. */
    public boolean set(String key, Object value, long ttlMs) {
        return store(SET, key, value, ttlMs, 0) == 1;
    }

    /** As set, with user flags. */
    public boolean set(String key, Object value, long ttlMs, int flags) {
        return store(SET, key, value, ttlMs, flags) == 1;
    }

    /** Stores without evicting valid items (SharedDictException "no memory" instead). */
    public void safeSet(String key, Object value, long ttlMs) {
        store(SAFE_SET, key, value, ttlMs, 0);
    }

    /** Stores only if the key is not there: false if it is. */
    public boolean add(String key, Object value, long ttlMs) {
        int rc = store(ADD, key, value, ttlMs, 0);
        return rc == 0 || rc == 1;
    }

    /** Stores only if the key is there: false if it is not. */
    public boolean replace(String key, Object value, long ttlMs) {
        int rc = store(REPLACE, key, value, ttlMs, 0);
        return rc == 0 || rc == 1;
    }

    /** Removes the key (absent already is fine). */
    public void delete(String key) {
        store(SET, key, null, 0, 0);
    }

    /** Adds delta to a number: the new value (SharedDictException "not found" if missing). */
    public double incr(String key, double delta) {
        return Native.shdictIncr(handle, utf8(key), delta, false, 0, 0);
    }

    /** Adds delta; a missing key starts at init, expiring after initTtlMs (0: never). */
    public double incr(String key, double delta, double init, long initTtlMs) {
        return Native.shdictIncr(handle, utf8(key), delta, true, init, initTtlMs);
    }

    /** Milliseconds the key has left, 0 if it never expires, -1 if it is not there. */
    public long ttl(String key) {
        return Native.shdictTtl(handle, utf8(key));
    }

    /** Sets when the key expires (0: never); false if it is not there. */
    public boolean expire(String key, long ttlMs) {
        return Native.shdictExpire(handle, utf8(key), ttlMs);
    }
}

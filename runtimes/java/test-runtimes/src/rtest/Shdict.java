package rtest;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import resty.ffi.Server;
import resty.ffi.SharedDict;
import resty.ffi.SharedDictException;
import resty.ffi.TaskException;

/**
 * t/029-shared-dict-sdks.t: resty.ffi.SharedDict with the "shd ..." commands of the Rust and
 * Go SDK test runtimes (errors answer rc 1 with the message).
 */
public final class Shdict {
    private Shdict() {
    }

    public static int init(String cfg, long tq) {
        Server.serve(tq, Shdict::handle, 2);
        return 0;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String num(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    /** The bytes after the n-th space (the raw value may hold any bytes). */
    private static byte[] after(byte[] req, int spaces) {
        int i = 0;
        for (int seen = 0; i < req.length && seen < spaces; i++) {
            if (req[i] == ' ') {
                seen++;
            }
        }
        byte[] out = new byte[req.length - i];
        System.arraycopy(req, i, out, 0, out.length);
        return out;
    }

    static byte[] handle(byte[] req) throws Exception {
        String s = new String(req, StandardCharsets.ISO_8859_1);
        String[] p = s.split(" ", -1);
        if (p.length < 3 || !p[0].equals("shd")) {
            throw new TaskException(22, "unknown command");
        }
        try {
            return shd(req, p);
        } catch (SharedDictException e) {
            throw new TaskException(1, e.getMessage());
        }
    }

    private static byte[] shd(byte[] req, String[] p) throws TaskException {
        String op = p[1];
        SharedDict d = SharedDict.open(p[2]);
        String key = p.length > 3 ? p[3] : "";
        switch (op) {
            case "set":
            case "add":
            case "replace":
            case "safe_set": {
                long ttl = Long.parseLong(p[4]);
                byte[] raw = after(req, 6);
                Object v;
                switch (p[5]) {
                    case "string":
                        v = raw;
                        break;
                    case "number":
                        v = Double.parseDouble(new String(raw, StandardCharsets.ISO_8859_1));
                        break;
                    default:
                        v = new String(raw, StandardCharsets.ISO_8859_1).equals("true");
                }
                if (op.equals("set")) {
                    d.set(key, v, ttl);
                } else if (op.equals("safe_set")) {
                    d.safeSet(key, v, ttl);
                } else if (op.equals("add") && !d.add(key, v, ttl)) {
                    return utf8("exists");
                } else if (op.equals("replace") && !d.replace(key, v, ttl)) {
                    return utf8("not found");
                }
                return utf8("stored");
            }
            case "get": {
                SharedDict.Entry e = d.getEntry(key);
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                if (e == null) {
                    out.writeBytes(utf8("nil "));
                } else if (e.value instanceof Boolean) {
                    out.writeBytes(utf8("boolean " + e.value));
                } else if (e.value instanceof Double) {
                    out.writeBytes(utf8("number " + num((Double) e.value)));
                } else {
                    out.writeBytes(utf8("string "));
                    out.writeBytes((byte[]) e.value);
                }
                out.writeBytes(utf8(" flags=" + (e == null ? 0 : e.flags)));
                return out.toByteArray();
            }
            case "delete":
                d.delete(key);
                return utf8("deleted");
            case "incr": {
                double delta = Double.parseDouble(p[4]);
                if (p.length > 5 && !p[5].isEmpty()) {
                    long ttl = p.length > 6 ? Long.parseLong(p[6]) : 0;
                    return utf8(num(d.incr(key, delta, Double.parseDouble(p[5]), ttl)));
                }
                return utf8(num(d.incr(key, delta)));
            }
            case "ttl": {
                long ms = d.ttl(key);
                if (ms < 0) {
                    return utf8("not found");
                }
                return utf8(ms == 0 ? "never" : Long.toString(ms));
            }
            case "expire":
                return utf8(d.expire(key, Long.parseLong(p[4])) ? "expired" : "not found");
            default:
                throw new TaskException(22, "unknown shd command");
        }
    }
}

package resty.ffi;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;

/**
 * Starts a Java runtime: what libffi_java.so runs for
 * {@code ngx.load_ffi("ffi_java", "<class>[?],<method>,<cfg>")}.
 *
 * <p>The class (dots as package separators) must have {@code static int method(String cfg,
 * long tq)}; it starts serving {@code tq} (see {@link TaskQueue}, {@link Server}) and returns
 * 0, or non-zero to refuse the load. An exception refuses it too. Failures are logged in
 * error.log and load_ffi returns nil and an error.
 *
 * <p>A trailing {@code ?} loads the class, and every class of its package and sub-packages,
 * through a new class loader reading the class path afresh: unload the runtime, change the
 * classes, load it again, and the new code runs (no nginx reload). Other classes (libraries,
 * this API) are shared with the JVM's application class loader.
 */
public final class Loader {
    static {
        if (!"false".equals(System.getProperty("resty.ffi.logging"))) {
            NginxLog.installLoggingHandler();
        }
    }

    /** Why the last {@link #start} on this thread failed. */
    private static final ThreadLocal<String> LAST_ERROR = new ThreadLocal<>();

    private Loader() {
    }

    /**
     * Loads and starts a runtime; 0 = serving. Never throws: failures are logged. (The
     * original's form "resty.ffi.Loader,init,&lt;class&gt;?,&lt;method&gt;,&lt;cfg&gt;" works too.)
     */
    public static int init(String cfg, long tq) {
        int rc = start(cfg, tq);
        String error = takeLastError();
        if (rc != 0 && error != null) {
            NginxLog.error(error);
        }
        return rc;
    }

    /** The message of the last failed {@link #start} on this thread (once), or null. */
    static String takeLastError() {
        String error = LAST_ERROR.get();
        LAST_ERROR.remove();
        return error;
    }

    private static int fail(int rc, String error) {
        LAST_ERROR.set("ffi_java: " + error);
        return rc;
    }

    /**
     * What libffi_java.so runs: like {@link #init}, but the failure is left for
     * {@link #takeLastError} (the loader logs it on the nginx worker thread, so load_ffi's error
     * carries it).
     */
    static int start(String cfg, long tq) {
        LAST_ERROR.remove();
        String[] parts = cfg == null ? new String[0] : cfg.split(",", 3);
        if (parts.length < 2 || parts[0].trim().isEmpty() || parts[1].trim().isEmpty()) {
            return fail(1, "bad cfg \"" + cfg + "\": expected \"<class>[?],<method>,<cfg>\"");
        }
        String className = parts[0].trim();
        boolean reload = className.endsWith("?");
        if (reload) {
            className = className.substring(0, className.length() - 1);
        }
        String methodName = parts[1].trim();
        String runtimeCfg = parts.length > 2 ? parts[2] : "";
        String what = className + "." + methodName;

        try {
            ClassLoader loader = reload ? new ReloadingClassLoader(className) : ClassLoader.getSystemClassLoader();
            Class<?> cls = Class.forName(className, true, loader);
            Method init = findInit(cls, methodName);
            if (init == null) {
                return fail(1, "class " + className + " has no method \"static int " + methodName
                        + "(String cfg, long tq)\"");
            }
            int rc = call(init, cls.getClassLoader(), runtimeCfg, tq);
            return rc == 0 ? 0 : fail(rc, what + "(cfg, tq) returned " + rc);
        } catch (ClassNotFoundException e) {
            return fail(1, "class " + className + " not found (set CLASSPATH, and `env CLASSPATH;` in"
                    + " nginx.conf); class path: " + System.getProperty("java.class.path"));
        } catch (InvocationTargetException e) {
            return fail(1, what + " threw " + Throwables.describe(e.getCause()));
        } catch (Throwable t) {
            // ExceptionInInitializerError, LinkageError, ...
            return fail(1, "cannot load " + what + ": " + Throwables.describe(t));
        }
    }

    /** The static int method(String, long), public or not, declared by cls or inherited. */
    private static Method findInit(Class<?> cls, String name) {
        for (Class<?> c = cls; c != null; c = c.getSuperclass()) {
            try {
                Method m = c.getDeclaredMethod(name, String.class, long.class);
                if (Modifier.isStatic(m.getModifiers()) && m.getReturnType() == int.class) {
                    m.setAccessible(true);
                    return m;
                }
                return null;
            } catch (NoSuchMethodException e) {
                // look in the superclass
            }
        }
        return null;
    }

    /** Calls the init method with the runtime's class loader as context class loader. */
    private static int call(Method init, ClassLoader loader, String cfg, long tq) throws Exception {
        Thread self = Thread.currentThread();
        ClassLoader saved = self.getContextClassLoader();
        self.setContextClassLoader(loader);
        try {
            return (Integer) init.invoke(null, cfg, tq);
        } finally {
            self.setContextClassLoader(saved);
        }
    }
}

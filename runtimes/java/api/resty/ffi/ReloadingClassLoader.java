package resty.ffi;

import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.List;

/**
 * Child-first class loader for the {@code ?} form of a runtime's cfg: the entry class's package
 * (and its sub-packages) is read afresh from the class path; everything else comes from the
 * application class loader, so libraries and this API are shared by all runtimes.
 */
final class ReloadingClassLoader extends URLClassLoader {
    static {
        ClassLoader.registerAsParallelCapable();
    }

    private static final String API_PACKAGE = "resty.ffi.";

    /** "demo.echo." for demo.echo.App; "" for a class in the default package. */
    private final String packagePrefix;
    private final String resourcePrefix;

    ReloadingClassLoader(String className) {
        super("resty-ffi-reload:" + className, classPath(), ClassLoader.getSystemClassLoader());
        int dot = className.lastIndexOf('.');
        this.packagePrefix = dot < 0 ? "" : className.substring(0, dot + 1);
        this.resourcePrefix = packagePrefix.replace('.', '/');
    }

    /** The JVM's class path without resty-ffi.jar. */
    private static URL[] classPath() {
        String apiJar = null;
        CodeSource src = Loader.class.getProtectionDomain().getCodeSource();
        if (src != null && src.getLocation() != null) {
            try {
                apiJar = new File(src.getLocation().toURI()).getAbsolutePath();
            } catch (URISyntaxException | IllegalArgumentException e) {
                // keep it: the API's classes are never loaded by this loader anyway
            }
        }
        List<URL> urls = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            if (entry.isEmpty()) {
                continue;
            }
            File f = new File(entry).getAbsoluteFile();
            if (f.getPath().equals(apiJar)) {
                continue;
            }
            try {
                urls.add(f.toURI().toURL());
            } catch (IOException e) {
                // not a usable path: skipped, as the application class loader does
            }
        }
        return urls.toArray(new URL[0]);
    }

    private boolean reloads(String className) {
        if (className.startsWith(API_PACKAGE) && className.indexOf('.', API_PACKAGE.length()) < 0) {
            return false;
        }
        if (packagePrefix.isEmpty()) {
            return className.indexOf('.') < 0;
        }
        return className.startsWith(packagePrefix);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (!reloads(name)) {
            return super.loadClass(name, resolve);
        }
        synchronized (getClassLoadingLock(name)) {
            Class<?> c = findLoadedClass(name);
            if (c == null) {
                try {
                    c = findClass(name);
                } catch (ClassNotFoundException e) {
                    return super.loadClass(name, resolve);
                }
            }
            if (resolve) {
                resolveClass(c);
            }
            return c;
        }
    }

    private boolean reloadsResource(String name) {
        return packagePrefix.isEmpty() ? name.indexOf('/') < 0 : name.startsWith(resourcePrefix);
    }

    @Override
    public URL getResource(String name) {
        if (reloadsResource(name)) {
            URL url = findResource(name);
            if (url != null) {
                return url;
            }
        }
        return super.getResource(name);
    }
}

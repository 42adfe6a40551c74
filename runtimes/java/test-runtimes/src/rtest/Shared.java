package rtest;

import java.util.concurrent.atomic.AtomicInteger;

/** State shared by every test runtime of the JVM (one class, from the application loader). */
public final class Shared {
    public static final AtomicInteger INITS = new AtomicInteger();

    private Shared() {
    }
}

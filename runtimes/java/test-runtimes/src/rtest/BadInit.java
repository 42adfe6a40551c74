package rtest;

/** Init methods that refuse to start, each its own way. */
public final class BadInit {
    private BadInit() {
    }

    public static int refuse(String cfg, long tq) {
        return 3;
    }

    public static int explode(String cfg, long tq) {
        throw new IllegalStateException("init refused: " + cfg, new java.io.IOException("disk on fire"));
    }

    public int notStatic(String cfg, long tq) {
        return 0;
    }

    public static void wrongReturn(String cfg, long tq) {
    }
}

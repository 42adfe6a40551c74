package rtest;

/** A class whose static initializer fails. */
public final class BrokenStatic {
    static final int VALUE = Integer.parseInt("not a number");

    private BrokenStatic() {
    }

    public static int init(String cfg, long tq) {
        return VALUE;
    }
}

package rtest.reload;

final class Text {
    private Text() {
    }

    static String value() {
        return "v2";
    }
}

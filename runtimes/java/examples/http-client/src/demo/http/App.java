package demo.http;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;

import resty.ffi.Server;
import resty.ffi.Task;
import resty.ffi.TaskException;

/**
 * A runtime doing real work: HTTP calls with the JDK's java.net.http.HttpClient, all
 * asynchronous, so any number of calls are in flight on a handful of threads.
 *
 * <p>Request: {@code "<METHOD> <URL>"}, then optionally a newline and the body.
 * Answer: {@code "<status>\n<body>"}. A failed exchange (refused, timeout) answers with rc 502
 * and the reason. cfg: the timeout of one exchange in milliseconds (default 5000). When the
 * Lua caller gives up (its call's timeout, a client abort), the exchange is cancelled: its
 * upstream connection is closed at once.
 *
 * <pre>
 * local http = ngx.load_ffi("ffi_java", "demo.http.App,init,3000")
 * local ok, res = http:fetch("GET http://127.0.0.1:8080/")
 * </pre>
 */
public final class App {
    private static final Logger LOG = Logger.getLogger("demo.http");

    private App() {
    }

    public static int init(String cfg, long tq) {
        Duration timeout = Duration.ofMillis(cfg.isBlank() ? 5000 : Long.parseLong(cfg.trim()));
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(timeout)
                .build();
        Server.serveAsync(tq, req -> fetch(client, timeout, new String(req, StandardCharsets.UTF_8)));
        LOG.info("HttpClient runtime ready, timeout " + timeout.toMillis() + " ms");
        return 0;
    }

    private static CompletableFuture<byte[]> fetch(HttpClient client, Duration timeout, String req)
            throws TaskException {
        int nl = req.indexOf('\n');
        String line = nl < 0 ? req : req.substring(0, nl);
        String body = nl < 0 ? "" : req.substring(nl + 1);
        String[] methodAndUrl = line.trim().split(" +", 2);
        if (methodAndUrl.length != 2) {
            throw new TaskException(400, "bad request: \"<METHOD> <URL>\" expected");
        }
        HttpRequest.BodyPublisher publisher = body.isEmpty()
                ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body);
        HttpRequest request;
        try {
            request = HttpRequest.newBuilder(URI.create(methodAndUrl[1]))
                    .timeout(timeout)
                    .method(methodAndUrl[0], publisher)
                    .build();
        } catch (IllegalArgumentException e) {
            throw new TaskException(400, "bad request: " + e.getMessage());
        }
        CompletableFuture<HttpResponse<byte[]>> exchange =
                client.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray());
        // Task.current() is the call while the handler starts its work (on the polling thread).
        Task.current().onCancel(() -> exchange.cancel(true));
        return exchange
                .handle((rsp, err) -> {
                    if (err != null) {
                        Throwable cause = err.getCause() != null ? err.getCause() : err;
                        throw new java.util.concurrent.CompletionException(
                                new TaskException(502, "upstream failed: " + cause));
                    }
                    byte[] head = (rsp.statusCode() + "\n").getBytes(StandardCharsets.UTF_8);
                    byte[] out = new byte[head.length + rsp.body().length];
                    System.arraycopy(head, 0, out, 0, head.length);
                    System.arraycopy(rsp.body(), 0, out, head.length, rsp.body().length);
                    return out;
                });
    }
}

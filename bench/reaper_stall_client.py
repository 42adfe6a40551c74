#!/usr/bin/env python3
"""The client of bench/reaper-stall.sh (stdlib only).

Three threads against one nginx worker, each on its own keep-alive connection:
  ping  GET /ping every --ping-ms, records (send time, latency);
  live  GET /live every --live-ms, records (receive time, live tasks);
  main  GET /storm?n=N&delay_ms=D, whose response ends (ngx.eof) D ms before the request
        does. After it, the pings go on until /live has said 0 for --tail seconds.

Prints one line of key=value words (times in ms):
  storm_ms       the storm request, start to its response's end (the setup: spawn, kill, unload)
  spawn_ms kill_ms answer_ms   its phases, as the worker measured them
  window_pings   pings sent after the storm response arrived
  max_ms p99_ms p50_ms          their latency
  setup_max_ms   the largest ping latency while the storm request ran (not the reaper)
  max_sent_after_end_ms  when the slowest window ping was sent, from the request's end
                 (server clock); about 0 or slightly negative when the request's end stalled it
  end_after_eof_ms  server-side request end minus the client's receipt of the response
  live_after_eof    the largest live-task count /live reported after the response arrived
  live0_ms       request end (server clock) -> first /live answer of 0 (client clock, the same
                 machine's realtime clock)
  reaped_after_eof  1 if the request's tasks were still live after the client had the
                 response and then went to 0 while the pings ran: the reaping happened in the
                 measured window
Exit status 0 when the run is valid, 1 otherwise (the line still says why: error=...).
"""

import argparse
import http.client
import sys
import threading
import time


def get(conn, path):
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"{path}: HTTP {resp.status}: {body[:200]!r}")
    return body.decode("ascii", "replace").strip()


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


class Prober(threading.Thread):
    """Calls fn every period seconds until stop is set or max_samples were taken."""

    def __init__(self, port, period, fn, stop, max_samples, timeout):
        super().__init__(daemon=True)
        self.port, self.period, self.fn, self.stop = port, period, fn, stop
        self.max_samples, self.timeout = max_samples, timeout
        self.samples = []
        self.error = None

    def run(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            next_at = time.monotonic()
            while not self.stop.is_set() and len(self.samples) < self.max_samples:
                self.samples.append(self.fn(conn))
                next_at = max(next_at + self.period, time.monotonic())
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            conn.close()
        except Exception as e:  # reported by the main thread
            self.error = f"{type(e).__name__}: {e}"


def ping(conn):
    sent_wall = time.time()
    t0 = time.perf_counter()
    body = get(conn, "/ping")
    lat = time.perf_counter() - t0
    if body != "pong":
        raise RuntimeError(f"/ping said {body!r}")
    return sent_wall, lat * 1000


def live(conn):
    words = get(conn, "/live").split()
    return time.time(), int(words[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--delay-ms", type=int, default=500)
    ap.add_argument("--ping-ms", type=float, default=1.0)
    ap.add_argument("--live-ms", type=float, default=5.0)
    ap.add_argument("--tail", type=float, default=1.0, help="seconds of pings after live tasks reach 0")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="bound of the whole run")
    a = ap.parse_args()

    deadline = time.monotonic() + a.max_seconds
    stop = threading.Event()
    max_samples = int(a.max_seconds * 1000 / min(a.ping_ms, a.live_ms)) + 1
    pinger = Prober(a.port, a.ping_ms / 1000, ping, stop, max_samples, a.max_seconds)
    liver = Prober(a.port, a.live_ms / 1000, live, stop, max_samples, a.max_seconds)
    out = {"n": a.n}

    def finish(error=None):
        stop.set()
        pinger.join(timeout=max(1.0, deadline - time.monotonic()))
        liver.join(timeout=max(1.0, deadline - time.monotonic()))
        error = error or pinger.error or liver.error
        if error:
            out["error"] = error.replace(" ", "_")
        print(" ".join(f"{k}={v}" for k, v in out.items()), flush=True)
        return 1 if error else 0

    pinger.start()
    liver.start()
    time.sleep(0.3)  # the probes run before the storm starts

    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=a.max_seconds)
    t_start = time.time()
    try:
        body = get(conn, f"/storm?n={a.n}&delay_ms={a.delay_ms}")
    except Exception as e:
        return finish(f"storm: {type(e).__name__}: {e}")
    t_eof = time.time()
    out["storm_ms"] = round((t_eof - t_start) * 1000)
    fields = dict(w.split("=", 1) for w in body.split() if "=" in w)
    for k in ("spawn_ms", "kill_ms", "answer_ms"):
        out[k] = fields.get(k, "-")
    if fields.get("tracker") != "ok" or fields.get("live_before_end") != str(a.n) \
            or fields.get("killed") != str(a.n):
        return finish(f"storm answered {body!r}")

    # Wait (bounded) for live tasks 0, then --tail more seconds of pings.
    zero_at = None
    while time.monotonic() < deadline and not stop.is_set():
        if pinger.error or liver.error:
            break
        if zero_at is None:
            z = [t for t, v in list(liver.samples) if t > t_eof and v == 0]
            if z:
                zero_at = z[0]
        elif time.time() >= zero_at + a.tail:
            break
        time.sleep(0.01)
    # The storm connection closes after the request ended (the response was complete before).
    conn.close()
    stop.set()
    pinger.join(timeout=max(1.0, deadline - time.monotonic()))
    liver.join(timeout=max(1.0, deadline - time.monotonic()))

    try:
        c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
        end_ms = get(c, "/end")
        c.close()
        end_ms = float(end_ms)
    except Exception as e:
        return finish(f"end: {type(e).__name__}: {e}")

    window = sorted(lat for sent, lat in pinger.samples if sent >= t_eof)
    setup = [lat for sent, lat in pinger.samples if t_start <= sent < t_eof]
    live_after = [v for t, v in liver.samples if t > t_eof]
    out["window_pings"] = len(window)
    out["max_ms"] = f"{window[-1]:.1f}" if window else "-"
    out["p99_ms"] = f"{percentile(window, 99):.2f}"
    out["p50_ms"] = f"{percentile(window, 50):.2f}"
    out["setup_max_ms"] = f"{max(setup):.1f}" if setup else "-"
    if window:
        sent_max = max((lat, sent) for sent, lat in pinger.samples if sent >= t_eof)[1]
        out["max_sent_after_end_ms"] = round(sent_max * 1000 - end_ms)
    out["end_after_eof_ms"] = round(end_ms - t_eof * 1000)
    out["live_after_eof"] = max(live_after) if live_after else "-"
    out["live0_ms"] = round(zero_at * 1000 - end_ms) if zero_at else "-"
    # Valid: the tasks were still live after the response arrived (so their freeing and the
    # reaping came later), reached 0, and pings kept running past that point.
    later_pings = [s for s, _ in pinger.samples if zero_at and s > zero_at]
    valid = bool(live_after) and max(live_after) >= a.n and zero_at is not None \
        and end_ms > t_eof * 1000 and len(later_pings) > 0
    out["reaped_after_eof"] = 1 if valid else 0
    if not valid:
        return finish("the reaping was not observed inside the ping window")
    return finish()


if __name__ == "__main__":
    sys.exit(main())

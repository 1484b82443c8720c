#!/usr/bin/env python3
"""Simulcast over real sockets: a viewer behind a slow link gets a lower layer, one on a fast link the high one.

Chromium publishes three VP8 layers (rids q, h, f at 1/4, 1/2 and full 1280x720). Two Chromium viewers watch: A on
loopback, unlimited, asking for `?layer=high`; B in its own network namespace behind a veth pair shaped to 400 kbit/s
by a token bucket (tbf) in each direction, with no preference, so its bandwidth estimate alone picks its layer. This
kernel has no netem, so the link limits rate (and queues up to 200 ms) but adds no fixed delay.

PASS when, within the deadline, both viewers have decoded continuously over the last WINDOW seconds, A shows the
high layer (frame width at least 960, or the width of the publisher's 'f' layer) and B a lower one (no wider than
the 'h' layer), and B's video arrives at under 400 kbit/s. /metrics families about layers are logged, not checked."""

import socket
import subprocess
import sys
import time

from harness import Scenario, TestFailure, field, http, log, run, summary

STREAM = "simulcast"
HOST_ADDR, LIMITED_ADDR = "10.78.0.1", "10.78.0.2"
RATE_BITS = 400_000
TBF = ("tbf", "rate", "400kbit", "burst", "4kb", "latency", "200ms")
LAYER_RIDS = ("q", "h", "f")
HIGH_MIN_WIDTH = 960
WINDOW = 10.0
MIN_FPS = 5
DEADLINE = 90.0
LOG_EVERY = 5.0


def sh(*argv):
    subprocess.run(argv, check=True)


def build_limited_link(scn):
    """A network namespace on a veth pair (see `Scenario.veth_namespace`) whose two ends each send at most
    400 kbit/s. Returns the command prefix that runs a program inside it."""
    inside = scn.veth_namespace("limited", HOST_ADDR, LIMITED_ADDR, "vlimited")
    # vhost's egress carries the media to the viewer, the direction that matters; vlimited's carries its feedback.
    sh("tc", "qdisc", "add", "dev", "vhost", "root", *TBF)
    sh(*inside, "tc", "qdisc", "add", "dev", "vlimited", "root", *TBF)
    return inside


# Runs in the namespace: prints its UDP port, then, once datagrams stop for a second, the bytes received after the
# first datagram and the seconds between the first and the last.
UDP_SINK = f"""
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("{LIMITED_ADDR}", 0))
print(s.getsockname()[1], flush=True)
s.settimeout(10.0)
s.recv(65536)
first = last = time.monotonic()
total = 0
s.settimeout(1.0)
try:
    while True:
        total += len(s.recv(65536))
        last = time.monotonic()
except socket.timeout:
    print(total, last - first, flush=True)
"""


def measure_link(inside, seconds=2.0, payload=1000, offered_bits=2_000_000):
    """Bits per second that arrive in the namespace when the host side offers `offered_bits` of UDP: proof that the
    shaper is in place before the test relies on it."""
    sink = subprocess.Popen([*inside, sys.executable, "-c", UDP_SINK], stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline())
        interval = payload * 8 / offered_bits
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            started = time.monotonic()
            sent = 0
            while time.monotonic() - started < seconds:
                sender.sendto(bytes(payload), (LIMITED_ADDR, port))
                sent += 1
                time.sleep(max(0.0, started + sent * interval - time.monotonic()))
        result = sink.stdout.readline().split()
    finally:
        sink.kill()
        sink.wait()
    if len(result) != 2 or float(result[1]) <= 0:
        return 0.0
    return int(result[0]) * 8 / float(result[1])


def qdisc_stats(prefix, device):
    result = subprocess.run([*prefix, "tc", "-s", "qdisc", "show", "dev", device], capture_output=True, text=True)
    return " ".join(result.stdout.split())


def layers_by_rid(report):
    layers = field(report, "video", "layers", default=[]) or []
    return {layer.get("rid"): layer for layer in layers if layer.get("rid")}


def publisher_sends_all_layers(report):
    layers = layers_by_rid(report)
    return all(field(layers, rid, "framesEncoded") > 0 and field(layers, rid, "bytesSent") > 0
               for rid in LAYER_RIDS)


def publisher_summary(report):
    layers = layers_by_rid(report)
    return "; ".join(f"{rid}: {field(layers, rid, 'frameWidth')}x{field(layers, rid, 'frameHeight')} "
                     f"{field(layers, rid, 'framesEncoded')} frames {field(layers, rid, 'bytesSent')} bytes "
                     f"limited by {field(layers, rid, 'qualityLimitationReason', default='?')}"
                     for rid in LAYER_RIDS)


def window(history, now):
    """The reports of the last WINDOW seconds, with the last one before it as the baseline: (start, end)."""
    before = [(t, r) for t, r in history if t <= now - WINDOW]
    if not before:
        return None
    recent = [(t, r) for t, r in history if t > now - WINDOW]
    return before[-1], (recent or before)[-1]


def video_rate(history, now):
    """Video bits per second received over the window, or None before the window is filled."""
    span = window(history, now)
    if span is None:
        return None
    (t0, r0), (t1, r1) = span
    if t1 <= t0:
        return None
    return (field(r1, "video", "bytesReceived") - field(r0, "video", "bytesReceived")) * 8 / (t1 - t0)


def decodes_continuously(history, now):
    """framesDecoded grew at MIN_FPS or more in every quarter of the window (no freeze of a quarter window)."""
    marks = [now - WINDOW + i * WINDOW / 4 for i in range(5)]
    counts = []
    for mark in marks:
        upto = [r for t, r in history if t <= mark]
        if not upto:
            return False
        counts.append(field(upto[-1], "video", "framesDecoded"))
    return all(b - a >= MIN_FPS * WINDOW / 4 for a, b in zip(counts, counts[1:]))


def viewer_line(history, now):
    rate = video_rate(history, now)
    rate_text = "?" if rate is None else f"{rate / 1000:.0f}"
    return f"video {rate_text} kbit/s over {WINDOW:.0f}s; {summary(history[-1][1] if history else None)}"


def verdict(scn, publisher, now):
    """None when every condition holds, else what is still missing."""
    layers = layers_by_rid(publisher)
    full_width = field(layers, "f", "frameWidth")
    half_width = field(layers, "h", "frameWidth")
    unlimited, limited = scn.collector.history("view-unlimited"), scn.collector.history("view-limited")
    if not unlimited or not limited:
        return "both viewers to report"
    missing = []
    for name, history in (("A", unlimited), ("B", limited)):
        if not decodes_continuously(history, now):
            missing.append(f"{name} to decode at {MIN_FPS}+ fps over the last {WINDOW:.0f}s")
    width_a = field(unlimited[-1][1], "video", "frameWidth")
    width_b = field(limited[-1][1], "video", "frameWidth")
    if not (width_a >= HIGH_MIN_WIDTH or (full_width and width_a == full_width)):
        missing.append(f"A to show the high layer (width {width_a}, 'f' is {full_width})")
    if not (half_width and 0 < width_b <= half_width):
        missing.append(f"B to show a lower layer (width {width_b}, 'h' is {half_width})")
    rate_b = video_rate(limited, now)
    if rate_b is None or rate_b >= RATE_BITS:
        missing.append(f"B's video under {RATE_BITS // 1000} kbit/s (now {rate_b})")
    return "; ".join(missing) or None


def log_layer_metrics(scn, name):
    status, _, body = http("GET", f"{scn.http_base}/metrics")
    if status != 200:
        log(name, f"/metrics answered {status}")
        return
    lines = [line for line in body.splitlines()
             if not line.startswith("#") and ("layer" in line or "simulcast" in line)]
    if not lines:
        log(name, "/metrics has no layer or simulcast families yet")
    for line in lines:
        log(name, f"metrics: {line}")


def wait_for_layers(scn, name, browsers):
    """Polls the reports until verdict() is satisfied or DEADLINE passes, logging both viewers every LOG_EVERY s."""
    started = last_log = time.monotonic()
    while True:
        scn.check_alive(scn.engine, scn.signaling, *browsers)
        now = time.monotonic()
        missing = verdict(scn, scn.collector.latest("pub"), now)
        if missing is None or now - last_log >= LOG_EVERY or now - started > DEADLINE:
            last_log = now
            log(name, f"after {now - started:.0f}s: publisher {publisher_summary(scn.collector.latest('pub'))}")
            log(name, f"  A: {viewer_line(scn.collector.history('view-unlimited'), now)}")
            log(name, f"  B: {viewer_line(scn.collector.history('view-limited'), now)}")
        if missing is None:
            return
        if now - started > DEADLINE:
            raise TestFailure(f"after {DEADLINE:.0f}s still waiting for {missing}")
        time.sleep(0.5)


def test(name):
    with Scenario(name) as scn:
        inside = build_limited_link(scn)
        measured = measure_link(inside)
        log(name, f"the limited link carried {measured / 1000:.0f} kbit/s of 2000 offered")
        if not 0 < measured < RATE_BITS * 1.25:
            raise TestFailure(f"the limited link carried {measured:.0f} bit/s: it is not limited to {RATE_BITS}")
        scn.start_system(shards=1, extra_ips=(HOST_ADDR,))

        publisher = scn.chromium("pub", scn.page_url("publish", STREAM, "pub", codec="vp8", simulcast="1"))
        scn.wait_reports(["pub"], publisher_sends_all_layers, "the publisher to send all of q, h and f",
                         procs=[publisher])
        log(name, f"publisher: {publisher_summary(scn.collector.latest('pub'))}")

        viewer_a = scn.chromium("view-unlimited", scn.page_url("watch", STREAM, "view-unlimited", layer="high"))
        viewer_b = scn.chromium("view-limited", scn.page_url("watch", STREAM, "view-limited", host=HOST_ADDR),
                                prefix=inside, hosts=(HOST_ADDR,))
        try:
            wait_for_layers(scn, name, (publisher, viewer_a, viewer_b))
        finally:
            log(name, f"vhost: {qdisc_stats((), 'vhost')}")
            log(name, f"vlimited: {qdisc_stats(inside, 'vlimited')}")
            log_layer_metrics(scn, name)


if __name__ == "__main__":
    sys.exit(run("simulcast_test", test))

#!/usr/bin/env python3
"""Chromium publishes through /publish/{stream}, three Chromium viewers watch through /watch/{stream}, once per codec.

PASS when every viewer decodes > 60 frames of the requested codec and receives audio, and the viewers' ICE remote
ports cover every shard (viewers are placed round-robin, so three of them must land on both shards)."""

import sys

from harness import Scenario, TestFailure, field, log, run, summary

VIEWERS = 3


def broadcast(scn, name, codec):
    stream = f"browser-{codec}"
    publisher = scn.chromium(f"pub-{codec}", scn.page_url("publish", stream, f"pub-{codec}", codec=codec))
    scn.wait_reports([f"pub-{codec}"],
                     lambda r: field(r, "video", "framesEncoded") > 0 and field(r, "video", "packetsSent") > 0,
                     f"{codec} publisher to send video", procs=[publisher])
    log(name, f"{codec} publisher: {summary(scn.collector.latest(f'pub-{codec}'))}")

    viewers = [f"view-{codec}-{i}" for i in range(VIEWERS)]
    browsers = [scn.chromium(v, scn.page_url("watch", stream, v)) for v in viewers]
    scn.wait_reports(viewers,
                     lambda r: field(r, "video", "framesDecoded") > 60 and field(r, "audio", "packetsReceived") > 0,
                     f"{VIEWERS} {codec} viewers to decode > 60 frames and receive audio",
                     procs=[publisher, *browsers])

    ports = set()
    for viewer in viewers:
        report = scn.collector.latest(viewer)
        log(name, f"{viewer}: {summary(report)}")
        got = str(field(report, "video", "codec", default="")).lower()
        if codec not in got:
            raise TestFailure(f"{viewer} decodes {got!r}, the publisher sends {codec}")
        port = report.get("remotePort")
        ports.add(int(port) if str(port).isdigit() else port)
    if ports != set(scn.shard_ports):
        raise TestFailure(f"viewers' remote ports {sorted(ports, key=str)} should be exactly the shard ports "
                          f"{scn.shard_ports}")
    for proc in (*browsers, publisher):
        scn.stop(proc)


def test(name):
    with Scenario(name) as scn:
        scn.start_system(shards=2)
        for codec in ("vp8", "h264"):
            broadcast(scn, name, codec)


if __name__ == "__main__":
    sys.exit(run("browser_test", test))

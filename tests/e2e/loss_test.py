#!/usr/bin/env python3
"""Loss repair over real sockets: viewers behind a lossy, slow link recover, viewers on a clean one are untouched.

Two shardcast-bench runs against one engine, side by side for a 60 s steady window: a clean one on loopback, and a
lossy one in its own network namespace behind a veth pair, the link of `tc netem loss 5% delay 20ms`. This kernel has
no netem, so the two halves come from elsewhere: the loss from nftables, which drops 5% of UDP datagrams in each
direction (its publisher's media and its viewers' media, NACKs and retransmissions alike); the delay from the bench's
own delay line (`--link-delay 20ms`), which holds every datagram its publisher and viewers send or receive for 20 ms,
so each direction is 20 ms slower and a NACK's round trip 40 ms longer. PASS when the lossy viewers' unrecovered video
loss is below 0.1% with no freeze longer than 500 ms, and the clean viewers lose nothing and freeze no longer than
that either. Audio is not checked behind the lossy link: like browsers, the bench does not NACK Opus."""

import json
import subprocess
import sys

from harness import BIN_DIR, Scenario, TestFailure, log, run

VIEWERS = 10
STEADY = "60s"
LOSS_PER_MILLE = 50
LINK_DELAY_MS = 20
HOST_ADDR, LOSSY_ADDR = "10.78.0.1", "10.78.0.2"
UNRECOVERED_LIMIT_PERCENT = 0.1
FREEZE_LIMIT_MS = 500


def build_lossy_link(scn):
    """A network namespace on a veth pair (see `Scenario.veth_namespace`) whose two ends drop LOSS_PER_MILLE of the
    UDP datagrams they send. Returns the command prefix that runs a program inside it."""
    inside = scn.veth_namespace("lossy", HOST_ADDR, LOSSY_ADDR, "vlossy")
    rules = ("table inet impair {{\n  chain out {{\n    type filter hook output priority 0;\n"
             "    oifname \"{}\" meta l4proto udp numgen random mod 1000 < {} counter drop\n  }}\n}}\n")
    for prefix, device in (((), "vhost"), (inside, "vlossy")):
        subprocess.run([*prefix, "nft", "-f", "-"], input=rules.format(device, LOSS_PER_MILLE), text=True,
                       check=True)
    return inside


def dropped(prefix=()):
    listing = subprocess.run([*prefix, "nft", "list", "table", "inet", "impair"], capture_output=True,
                             text=True, check=True).stdout
    words = listing.split()
    return int(words[words.index("packets") + 1])


def bench(scn, name, prefix, http_host, extra=()):
    report = scn.dir / f"{name}.json"
    base = f"http://{http_host}:{scn.http_port}"
    argv = [*prefix, str(BIN_DIR / "shardcast-bench"), "run", "--whip", f"{base}/whip/{{stream}}",
            "--whep", f"{base}/whep/{{stream}}", "--stream", name, "--viewers", str(VIEWERS), "--ramp", "10",
            "--duration", STEADY, "--no-progress", "--json", str(report), *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, report


def finish(name, proc, report_path):
    output, _ = proc.communicate(timeout=240)
    print(output)
    if proc.returncode != 0:
        raise TestFailure(f"{name} bench exited {proc.returncode}")
    report = json.loads(report_path.read_text())
    if report["viewers_connected"] != VIEWERS:
        raise TestFailure(f"{name}: {report['viewers_connected']}/{VIEWERS} viewers connected")
    return report


def test(name):
    with Scenario(name) as scn:
        inside = build_lossy_link(scn)
        scn.start_system(shards=2, extra_ips=(HOST_ADDR,))
        lossy = bench(scn, "lossy", inside, HOST_ADDR, ("--link-delay", f"{LINK_DELAY_MS}ms"))
        clean = bench(scn, "clean", (), "127.0.0.1")
        clean_report = finish("clean", *clean)
        lossy_report = finish("lossy", *lossy)
        scn.check_alive(scn.engine, scn.signaling)

        link = lossy_report["link_delay"]
        if link is None or link["one_way_ms"] != LINK_DELAY_MS:
            raise TestFailure(f"the lossy bench did not delay its link: {link}")
        if link["overflowed"] != 0:
            raise TestFailure(f"the lossy bench's delay line overflowed {link['overflowed']} datagrams")
        log(name, f"link delay {link['one_way_ms']} ms each way (round trip +{link['round_trip_added_ms']} ms), "
                  f"{link['overflowed']} datagrams overflowed")
        if clean_report["link_delay"] is not None:
            raise TestFailure(f"the clean bench delayed its link: {clean_report['link_delay']}")
        drops = (dropped(), dropped(inside))
        if min(drops) == 0:
            raise TestFailure(f"the link dropped nothing ({drops}): the test tested nothing")
        video = lossy_report["video"]
        if video["lost"] == 0 or video["nacks_sent"] == 0:
            raise TestFailure(f"lossy viewers saw no loss to repair: {video}")
        for kind in ("video",):
            track = lossy_report[kind]
            if track["unrecovered_percent"] >= UNRECOVERED_LIMIT_PERCENT:
                raise TestFailure(f"lossy {kind}: {track['unrecovered_percent']:.3f}% unrecovered")
            if track["longest_freeze_ms"] > FREEZE_LIMIT_MS:
                raise TestFailure(f"lossy {kind}: froze for {track['longest_freeze_ms']} ms")
        for kind in ("video", "audio"):
            track = clean_report[kind]
            if track["unrecovered"] != 0 or track["lost"] != 0:
                raise TestFailure(f"clean {kind}: {track['lost']} lost, {track['unrecovered']} unrecovered")
            if track["longest_freeze_ms"] > FREEZE_LIMIT_MS:
                raise TestFailure(f"clean {kind}: froze for {track['longest_freeze_ms']} ms")
        if lossy_report["publisher"]["retransmissions"] == 0:
            raise TestFailure("the lossy publisher was never asked to retransmit")
        # Every media packet waits on the publisher's way up and the viewer's way down. The bench reports a
        # percentile as its histogram bucket's midpoint, up to 1/32 below the true value.
        latency = [(report["video"]["latency_ms"] or {}).get("p50") for report in (lossy_report, clean_report)]
        if latency[0] is None or latency[0] < 2 * link["one_way_ms"] * 31 / 32:
            raise TestFailure(f"lossy video latency p50 {latency[0]} ms: the delay is not on the path")
        log(name, f"video latency p50 {latency[0]} ms lossy, {latency[1]} ms clean")
        log(name, f"link dropped {drops[0]} down, {drops[1]} up; lossy video: {video['lost']} lost, "
                  f"{video['unrecovered']} unrecovered ({video['unrecovered_percent']:.3f}%), longest freeze "
                  f"{video['longest_freeze_ms']} ms, {video['nacks_sent']} NACKs; lossy publisher retransmitted "
                  f"{lossy_report['publisher']['retransmissions']}")
        clean = clean_report["video"]
        log(name, f"clean video: {clean['lost']} lost, {clean['unrecovered']} unrecovered, longest freeze "
                  f"{clean['longest_freeze_ms']} ms, {clean['nacks_sent']} NACKs")


if __name__ == "__main__":
    sys.exit(run("loss_test", test))

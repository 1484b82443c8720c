#!/usr/bin/env python3
"""A Chromium viewer watches a stream before anyone publishes it; then a publisher starts, goes away, and a new one
publishes the same stream. The one viewer, on the same connection throughout, must decode both publishers."""

import sys
import time

from harness import Scenario, TestFailure, field, log, run, summary, wait_for

STREAM = "late-join"
STALL_SECONDS = 2.5


def frames(report):
    return field(report, "video", "framesDecoded")


def test(name):
    with Scenario(name) as scn:
        scn.start_system(shards=2)
        viewer = scn.chromium("viewer", scn.page_url("watch", STREAM, "viewer"))
        # The page is up and has tried to watch once it reports; only then does the publisher exist.
        scn.wait_reports(["viewer"], lambda r: True, "the viewer page's first report", procs=[viewer])
        log(name, f"viewer before publish: {summary(scn.collector.latest('viewer'))}")

        first = scn.chromium("pub-1", scn.page_url("publish", STREAM, "pub-1", codec="vp8"))
        scn.wait_reports(["viewer"], lambda r: frames(r) > 60, "the early viewer to decode > 60 frames",
                         procs=[viewer, first])
        log(name, f"first publisher decoded: {summary(scn.collector.latest('viewer'))}")

        # SIGKILL: the page gets no chance to DELETE its session, as when a publisher's machine drops off.
        scn.stop(first, crash=True)
        gone = time.monotonic()

        def stalled():
            # Two reports at least STALL_SECONDS apart, both after the kill, with the same count: no more frames.
            scn.check_alive(scn.engine, scn.signaling, viewer)
            after = [(t, frames(r)) for t, r in scn.collector.history("viewer") if t > gone]
            last_t, last_n = after[-1] if after else (0, None)
            # A 1-tuple, so a stall at 0 frames still counts as reached.
            return (last_n,) if any(n == last_n and last_t - t >= STALL_SECONDS for t, n in after) else None

        (baseline,) = wait_for(stalled, 20, "the viewer to stop decoding once the publisher is gone",
                               lambda: summary(scn.collector.latest("viewer")))
        log(name, f"publisher gone, viewer stalled at {baseline} frames")

        second = scn.chromium("pub-2", scn.page_url("publish", STREAM, "pub-2", codec="vp8"))
        scn.wait_reports(["viewer"], lambda r: frames(r) > baseline + 30,
                         f"the viewer to decode > 30 more frames than {baseline} from the new publisher",
                         procs=[viewer, second])
        final = scn.collector.latest("viewer")
        log(name, f"after republish: {summary(final)}")

        counts = [frames(r) for _, r in scn.collector.history("viewer")]
        if any(b < a for a, b in zip(counts, counts[1:])):
            raise TestFailure(f"framesDecoded went backwards ({counts}): the viewer reconnected instead of "
                              f"staying on its session")
        if final.get("connectionState") != "connected":
            raise TestFailure(f"viewer ended in connectionState {final.get('connectionState')!r}")


if __name__ == "__main__":
    sys.exit(run("late_join_test", test))

#!/usr/bin/env python3
"""A second WebRTC stack against shardcast: aiortc publishes over WHIP (a generated test pattern and a 440 Hz tone),
aiortc viewers play over WHEP, once with VP8 and once with H.264.

PASS when two viewers that join while the publisher runs, and one that joins later, each decode > 60 video frames
and some audio frames; the answers place successive viewers on different shards; DELETE ends every session."""

import asyncio
import fractions
import math
import re
import sys
import time
import urllib.parse

import av
from aiortc import (MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription,
                    VideoStreamTrack)
from aiortc.mediastreams import MediaStreamError

from harness import TIMEOUT, Scenario, TestFailure, http, log, run

WIDTH, HEIGHT = 320, 240
SAMPLE_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms, one Opus frame


class TestPattern(VideoStreamTrack):
    """A bright bar sweeping across a dark frame: every frame differs, so the encoder never idles."""

    def __init__(self):
        super().__init__()
        self.index = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        luma, cb, cr = frame.planes
        x = (self.index * 4) % (WIDTH - 32)
        row = b"\x20" * x + b"\xe0" * 32 + b"\x20" * (luma.line_size - x - 32)
        luma.update(row * HEIGHT)
        cb.update(b"\x80" * cb.buffer_size)
        cr.update(b"\x80" * cr.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self.index += 1
        return frame


class Tone(MediaStreamTrack):
    """440 Hz mono, paced in real time like a microphone."""

    kind = "audio"
    # One second holds exactly 440 periods, so 20 ms slices of it loop seamlessly.
    SECOND = b"".join(int(8000 * math.sin(2 * math.pi * 440 * i / SAMPLE_RATE)).to_bytes(2, "little", signed=True)
                      for i in range(SAMPLE_RATE))

    def __init__(self):
        super().__init__()
        self.sent = 0
        self.start = None

    async def recv(self):
        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.sent / SAMPLE_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        offset = (self.sent % SAMPLE_RATE) * 2
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        frame.planes[0].update(self.SECOND[offset:offset + AUDIO_SAMPLES * 2])
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self.sent
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self.sent += AUDIO_SAMPLES
        return frame


def video_codec(sdp):
    """Encoding name of the first payload type of the video m-line."""
    media = re.search(r"^m=video \S+ \S+ (\d+)", sdp, re.M)
    if not media:
        return None
    name = re.search(rf"^a=rtpmap:{media.group(1)} ([^/\s]+)/", sdp, re.M)
    return name and name.group(1).lower()


def answer_port(sdp):
    """UDP port of the answer's first candidate: the shard that owns the session."""
    found = re.search(r"^a=candidate:\S+ 1 udp \d+ \S+ (\d+) typ", sdp, re.M | re.I)
    return found and int(found.group(1))


class Peer:
    """One WHIP or WHEP session: POST the offer, apply the answer, DELETE the Location on close."""

    def __init__(self, name):
        self.name = name
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.location = None
        self.answer = None

    async def negotiate(self, endpoint):
        await self.pc.setLocalDescription(await self.pc.createOffer())
        loop = asyncio.get_running_loop()
        status, headers, body = await loop.run_in_executor(None, http, "POST", endpoint, self.pc.localDescription.sdp)
        if status != 201:
            raise TestFailure(f"{self.name}: POST {endpoint} answered {status}: {body[:300]!r}")
        if not headers.get("Location"):
            raise TestFailure(f"{self.name}: 201 without a Location header")
        self.location = urllib.parse.urljoin(endpoint, headers["Location"])
        self.answer = body
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))

    async def close(self):
        """DELETE the session (must succeed) and close the peer connection."""
        try:
            if self.location:
                loop = asyncio.get_running_loop()
                status, _, body = await loop.run_in_executor(None, http, "DELETE", self.location)
                if not 200 <= status < 300:
                    raise TestFailure(f"{self.name}: DELETE {self.location} answered {status}: {body[:200]!r}")
        finally:
            await self.pc.close()


class Publisher(Peer):
    async def start(self, endpoint, codec):
        video = self.pc.addTransceiver(TestPattern(), direction="sendonly")
        wanted = [c for c in RTCRtpSender.getCapabilities("video").codecs
                  if c.mimeType.lower() in (f"video/{codec}", "video/rtx")]
        video.setCodecPreferences(wanted)
        self.pc.addTransceiver(Tone(), direction="sendonly")
        await self.negotiate(endpoint)


class Viewer(Peer):
    def __init__(self, name):
        super().__init__(name)
        self.video_frames = 0
        self.audio_frames = 0
        self.size = None
        self.drains = []
        self.pc.on("track", lambda track: self.drains.append(asyncio.ensure_future(self.drain(track))))

    async def drain(self, track):
        # recv() hands back decoded frames, so counting them counts what was actually decoded.
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    self.video_frames += 1
                    self.size = (frame.width, frame.height)
                else:
                    self.audio_frames += 1
        except MediaStreamError:
            pass

    async def start(self, endpoint):
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        await self.negotiate(endpoint)

    def state(self):
        return (f"{self.name}: {self.pc.connectionState}, {self.video_frames} video frames {self.size}, "
                f"{self.audio_frames} audio frames")

    async def close(self):
        try:
            await super().close()
        finally:
            for task in self.drains:
                task.cancel()


async def until(scn, condition, what, state, timeout=None):
    deadline = time.monotonic() + (timeout or TIMEOUT)
    while not condition():
        scn.check_alive(scn.engine, scn.signaling)
        if time.monotonic() > deadline:
            raise TestFailure(f"timed out after {timeout or TIMEOUT:.0f}s waiting for {what}\n  {state()}")
        await asyncio.sleep(0.2)


async def broadcast(scn, name, codec):
    stream = f"aiortc-{codec}"
    publisher = Publisher(f"publisher-{codec}")
    viewers = []

    def state():
        return "\n  ".join([f"publisher: {publisher.pc.connectionState}", *(v.state() for v in viewers)])

    def decoded(group):
        return all(v.video_frames > 60 and v.audio_frames > 0 for v in group)

    try:
        await publisher.start(f"{scn.http_base}/whip/{stream}", codec)
        if video_codec(publisher.answer) != codec:
            raise TestFailure(f"publisher offered only {codec}, answer picked {video_codec(publisher.answer)}")
        await until(scn, lambda: publisher.pc.connectionState == "connected", "the publisher to connect", state)

        for i in range(2):
            viewers.append(Viewer(f"viewer-{codec}-{i}"))
            await viewers[-1].start(f"{scn.http_base}/whep/{stream}")
        await until(scn, lambda: decoded(viewers), "2 viewers to decode > 60 video frames and some audio", state)

        late = Viewer(f"late-viewer-{codec}")
        viewers.append(late)
        await late.start(f"{scn.http_base}/whep/{stream}")
        await until(scn, lambda: decoded([late]), "the late viewer to decode > 60 video frames and some audio", state)
        log(name, state().replace("\n  ", "; "))

        for viewer in viewers:
            if video_codec(viewer.answer) != codec:
                raise TestFailure(f"{viewer.name}: answer offers {video_codec(viewer.answer)}, stream is {codec}")
        ports = [answer_port(v.answer) for v in viewers]
        if not set(ports) <= set(scn.shard_ports) or ports[0] == ports[1]:
            raise TestFailure(f"successive viewers should alternate across shard ports {scn.shard_ports}: "
                              f"their answers' candidates are on {ports}")
    finally:
        # Close every session even on failure, so the next codec starts from a clean engine.
        results = await asyncio.gather(*(p.close() for p in (*viewers, publisher)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]


def test(name):
    with Scenario(name) as scn:
        scn.start_system(shards=2)
        for codec in ("vp8", "h264"):
            asyncio.run(broadcast(scn, name, codec))


if __name__ == "__main__":
    sys.exit(run("aiortc_test", test))

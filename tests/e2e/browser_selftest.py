#!/usr/bin/env python3
"""Checks the browser environment alone, without shardcast: headless Chromium inside the namespace captures the fake
camera and microphone, sends them to itself over a loopback RTCPeerConnection with the requested codec, decodes, and
posts reports to the collector. When this fails, the e2e failures that follow are about the machine, not shardcast."""

import sys

from harness import Scenario, TestFailure, field, log, run, wait_for

# Same report shape as the signaling pages, so the same checks apply.
PAGE = """<!doctype html>
<html><body><video id="v" autoplay playsinline muted></video><script>
const params = new URLSearchParams(location.search);
const codec = params.get("codec");
let a, b, error = null;

async function start() {
  const media = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: true});
  a = new RTCPeerConnection();
  b = new RTCPeerConnection();
  a.onicecandidate = e => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = e => e.candidate && a.addIceCandidate(e.candidate);
  b.ontrack = e => { document.getElementById("v").srcObject = e.streams[0]; };
  for (const track of media.getTracks()) {
    const t = a.addTransceiver(track, {direction: "sendonly", streams: [media]});
    if (track.kind === "video") {
      const all = RTCRtpSender.getCapabilities("video").codecs;
      const wanted = all.filter(c => c.mimeType.toLowerCase() === "video/" + codec);
      if (!wanted.length) throw new Error("codec " + codec + " not offered; have " + all.map(c => c.mimeType));
      t.setCodecPreferences(wanted);
    }
  }
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
}

async function report() {
  const out = {role: "selftest", connectionState: b && b.connectionState, iceState: b && b.iceConnectionState,
               video: {}, audio: {}, remotePort: null, error};
  if (b) {
    const stats = await b.getStats();
    stats.forEach(s => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        Object.assign(out.video, {framesDecoded: s.framesDecoded, framesReceived: s.framesReceived,
          packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, frameWidth: s.frameWidth,
          frameHeight: s.frameHeight, codec: stats.get(s.codecId) && stats.get(s.codecId).mimeType});
      }
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        Object.assign(out.audio, {packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived,
          totalSamplesReceived: s.totalSamplesReceived});
      }
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
        const remote = stats.get(s.remoteCandidateId);
        out.remotePort = remote && remote.port;
      }
    });
  }
  fetch(params.get("report"), {method: "POST", mode: "no-cors", body: JSON.stringify(out)});
}

start().catch(e => { error = String(e); });
setInterval(() => report().catch(e => { error = String(e); }), 1000);
</script></body></html>
"""


def test(name):
    with Scenario(name) as scn:
        scn.collector.pages["selftest"] = PAGE
        for codec in ("vp8", "h264"):
            report = f"self-{codec}"
            url = f"{scn.collector.base}/page/selftest?codec={codec}&report={scn.collector.report_url(report)}"
            browser = scn.chromium(report, url)

            def decoded():
                scn.check_alive(browser)
                r = scn.collector.latest(report)
                if r and r.get("error"):
                    raise TestFailure(f"{codec}: page error: {r['error']}")
                return r and field(r, "video", "framesDecoded") > 60 and field(r, "audio", "packetsReceived") > 0

            wait_for(decoded, 60, f"{codec} loopback call to decode > 60 frames and receive audio",
                     lambda: scn.collector.latest(report))
            r = scn.collector.latest(report)
            if codec not in str(field(r, "video", "codec", default="")).lower():
                raise TestFailure(f"asked for {codec}, decoding {field(r, 'video', 'codec', default=None)}")
            log(name, f"{codec}: {field(r, 'video', 'framesDecoded')} frames "
                      f"{field(r, 'video', 'frameWidth')}x{field(r, 'video', 'frameHeight')}, "
                      f"{field(r, 'audio', 'packetsReceived')} audio packets, remote port {r.get('remotePort')}")
            scn.stop(browser)


if __name__ == "__main__":
    sys.exit(run("browser_selftest", test))

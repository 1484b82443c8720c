"""Shared machinery for the end-to-end suites.

Every suite runs inside its own network and PID namespace: only loopback exists, so nothing can leak off the
machine, ports never collide with other runs, and when the suite's process ends the kernel kills whatever it
started (browsers included), even if the suite itself is killed with SIGKILL.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("SHARDCAST_BIN_DIR", REPO / "target" / "release"))
# Seconds to wait for media to flow; raise on a loaded machine.
TIMEOUT = float(os.environ.get("SHARDCAST_E2E_TIMEOUT", "60"))
NETNS_MARK = "SHARDCAST_E2E_NETNS"
# A second address on lo, only inside our namespace. aioice never offers 127.0.0.1 as a host candidate, so aiortc
# needs some other local address to gather; packets to and from it still stay on lo.
AIORTC_HOST_ADDR = "10.77.0.1"


class TestFailure(Exception):
    pass


def enter_netns():
    """Re-exec this script as PID 1 of fresh network + PID namespaces (needs root), then bring lo up."""
    if os.environ.get(NETNS_MARK) != "1":
        if os.geteuid() != 0:
            sys.exit("e2e: must run as root (it re-executes itself under `unshare --net --pid`)")
        env = dict(os.environ, **{NETNS_MARK: "1"})
        argv = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
                sys.executable, *sys.argv]
        os.execvpe("unshare", argv, env)
    # As PID 1 a signal without a handler is ignored; turn SIGTERM into a normal exit so cleanup still runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{AIORTC_HOST_ADDR}/32", "dev", "lo"], check=True)


def wait_for(condition, timeout, what, state=None):
    """Poll `condition` until it returns something truthy; raise TestFailure with `state()` on the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n  last state: {state()}" if state else ""
            raise TestFailure(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(0.2)


def summary(report):
    """One line per report for progress and failure messages."""
    if report is None:
        return "no report yet"
    video, audio = report.get("video") or {}, report.get("audio") or {}
    parts = [f"{report.get('connectionState')}/{report.get('iceState')}", f"port={report.get('remotePort')}",
             "video " + " ".join(f"{k}={v}" for k, v in video.items()),
             "audio " + " ".join(f"{k}={v}" for k, v in audio.items())]
    if report.get("error"):
        parts.append(f"error={report['error']!r}")
    return ", ".join(parts)


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_udp_range(count):
    """A base port P such that P..P+count-1 are all free for UDP on 127.0.0.1."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - count)
        socks = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise TestFailure(f"no range of {count} free UDP ports")


class Collector:
    """Receives the pages' JSON reports (POST /report/<name>) and serves static test pages (GET /page/<name>).
    It listens on every address of the test's namespace, so pages in a nested namespace can report too."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reports = {}
        self.pages = {}
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def _cors(self):
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "*")
                # Chromium's Private Network Access preflight asks for this before a cross-origin loopback fetch.
                self.send_header("Access-Control-Allow-Private-Network", "true")

            def do_OPTIONS(self):
                self.send_response(204)
                self._cors()
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                name = self.path.removeprefix("/report/")
                try:
                    report = json.loads(body)
                except ValueError:
                    report = {"error": f"collector: unparseable report {body[:200]!r}"}
                with collector.lock:
                    collector.reports.setdefault(name, []).append((time.monotonic(), report))
                self.send_response(204)
                self._cors()
                self.end_headers()

            def do_GET(self):
                page = collector.pages.get(self.path.split("?")[0].removeprefix("/page/"))
                if page is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def report_url(self, name, host="127.0.0.1"):
        return f"http://{host}:{self.port}/report/{name}"

    def latest(self, name):
        with self.lock:
            history = self.reports.get(name)
            return history[-1][1] if history else None

    def history(self, name):
        with self.lock:
            return list(self.reports.get(name, []))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def field(report, *path, default=0):
    """report["video"]["framesDecoded"] and friends, tolerating missing or null parts."""
    value = report
    for key in path:
        if not isinstance(value, dict) or value.get(key) is None:
            return default
        value = value[key]
    return value


class Scenario:
    """Owns every process, temp dir and server of one test; tears all of it down on exit, printing logs on failure."""

    def __init__(self, name):
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"shardcast-e2e-{name}-"))
        self.procs = []
        self.collector = Collector()
        self.engine = None
        self.signaling = None
        self.http_base = None
        self.shard_ports = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None
        for proc in reversed(self.procs):
            self.stop(proc)
        self.collector.close()
        if failed:
            for proc in self.procs:
                if proc.log_name in ("engine", "signaling") or os.environ.get("SHARDCAST_E2E_ALL_LOGS"):
                    print_tail(proc.log_path)
        if failed or os.environ.get("SHARDCAST_E2E_KEEP"):
            print(f"[{self.name}] logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def spawn(self, log_name, argv, env=None):
        log_path = self.dir / f"{log_name}.log"
        log = open(log_path, "wb")
        # Own process group, so stop() reaches the helpers a browser forks.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
        log.close()
        proc.log_name = log_name
        proc.log_path = log_path
        self.procs.append(proc)
        return proc

    def stop(self, proc, crash=False):
        """Stop proc and its group: SIGTERM (SIGKILL after 5 s), or SIGKILL at once to simulate a crash."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL if crash else signal.SIGTERM)
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        # Children that outlived their leader still hold the group id.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def check_alive(self, *procs):
        for proc in procs:
            if proc is not None and proc.poll() is not None:
                raise TestFailure(f"{proc.log_name} exited with status {proc.returncode}")

    def start_system(self, shards=2, extra_ips=()):
        """Engine with `shards` shards plus signaling, on fresh ports and a fresh control dir. The engine also
        advertises `extra_ips`, and signaling then listens on every address, for peers in other namespaces."""
        for binary in ("shardcast", "shardcast-signaling"):
            if not (BIN_DIR / binary).is_file():
                raise TestFailure(f"{BIN_DIR / binary} is missing; run `cargo build --release --workspace`")
        control = self.dir / "control"
        control.mkdir()
        port_base = free_udp_range(shards)
        http_port = free_tcp_port()
        self.shard_ports = [port_base + i for i in range(shards)]
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"), RUST_BACKTRACE="1")
        self.engine = self.spawn("engine", [
            str(BIN_DIR / "shardcast"), "engine", "--shards", str(shards), "--port-base", str(port_base),
            "--control-dir", str(control), "--advertise-ip", "127.0.0.1",
            *(arg for ip in extra_ips for arg in ("--advertise-ip", ip))], env=env)

        def engine_ready():
            self.check_alive(self.engine)
            return (control / "engine.json").exists()

        wait_for(engine_ready, 30, f"{control}/engine.json")
        listen = "0.0.0.0" if extra_ips else "127.0.0.1"
        self.signaling = self.spawn("signaling", [
            str(BIN_DIR / "shardcast-signaling"), "--listen", f"{listen}:{http_port}",
            "--control-dir", str(control)], env=env)

        def signaling_ready():
            self.check_alive(self.engine, self.signaling)
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_for(signaling_ready, 30, f"signaling to accept on 127.0.0.1:{http_port}")
        self.http_port = http_port
        self.http_base = f"http://127.0.0.1:{http_port}"
        log(self.name, f"engine shards on UDP {self.shard_ports}, signaling on {self.http_base}")

    def wait_reports(self, names, ok, what, timeout=None, procs=()):
        """Poll until the latest report of every page in `names` satisfies `ok`, while `procs` stay alive."""
        def condition():
            self.check_alive(self.engine, self.signaling, *procs)
            return all((r := self.collector.latest(n)) is not None and ok(r) for n in names)

        def state():
            return "".join(f"\n    {n}: {summary(self.collector.latest(n))}" for n in names)

        wait_for(condition, timeout or TIMEOUT, what, state)

    def page_url(self, kind, stream, report_name, host="127.0.0.1", **params):
        """The signaling page `kind` for `stream`, reporting to the collector; `host` is the address through
        which the browser reaches both (another one than loopback for a browser in a nested namespace)."""
        query = urllib.parse.urlencode({**params, "report": self.collector.report_url(report_name, host)})
        return f"http://{host}:{self.http_port}/{kind}/{stream}?{query}"

    def veth_namespace(self, name, host_addr, inner_addr, inner_device):
        """A network namespace joined to this one by a veth pair: `vhost` here at `host_addr`/24, `inner_device` in
        it at `inner_addr`/24, loopback up. Returns the command prefix that runs a program inside it. The namespace
        is held by a process of this test's PID namespace (no name under /run/netns), so it goes away with the
        test."""
        holder = self.spawn(f"{name}-namespace", ["unshare", "--net", "sleep", "infinity"])
        inside = ("nsenter", "--target", str(holder.pid), "--net")
        wait_for(lambda: subprocess.run([*inside, "true"]).returncode == 0 and
                 os.readlink(f"/proc/{holder.pid}/ns/net") != os.readlink("/proc/self/ns/net"), 10,
                 f"the {name} namespace")
        for argv in (("ip", "link", "add", "vhost", "type", "veth", "peer", "name", inner_device),
                     ("ip", "link", "set", inner_device, "netns", str(holder.pid)),
                     ("ip", "addr", "add", f"{host_addr}/24", "dev", "vhost"),
                     ("ip", "link", "set", "vhost", "up"),
                     (*inside, "ip", "addr", "add", f"{inner_addr}/24", "dev", inner_device),
                     (*inside, "ip", "link", "set", inner_device, "up"),
                     (*inside, "ip", "link", "set", "lo", "up")):
            subprocess.run(argv, check=True)
        return inside

    def chromium(self, name, url, prefix=(), hosts=()):
        """A headless Chromium on `url`; `prefix` (e.g. an nsenter command) runs it elsewhere, `hosts` are the
        addresses besides loopback it may contact."""
        return self.spawn(f"chromium-{name}", [*prefix, *chromium_argv(self.dir / f"profile-{name}", url, hosts)])


def chromium_binary():
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise TestFailure("no Chromium found (set CHROMIUM=/path/to/chromium)")


def chromium_argv(profile_dir, url, hosts=()):
    return [
        chromium_binary(),
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile_dir}",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--allow-loopback-in-peer-connection",
        # mDNS host candidates cannot resolve in the namespace; offer the raw loopback address instead.
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        # Nothing outside loopback (and `hosts`) may be looked up or contacted.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"
        + "".join(f", EXCLUDE {host}" for host in hosts),
        "--autoplay-policy=no-user-gesture-required",
        # Several headless pages share two cores: never let a page's timers or media pipeline be throttled.
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        url,
    ]


def http(method, url, body=None, content_type="application/sdp", timeout=15):
    """(status, headers, body) of one request; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, data=body.encode() if isinstance(body, str) else body, method=method)
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode(errors="replace")


def print_tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError as error:
        print(f"--- {path}: {error}")
        return
    print(f"--- last {min(lines, len(text))} lines of {path}")
    for line in text[-lines:]:
        print(f"    {line}")


def log(test, message):
    print(f"[{test}] {message}", flush=True)


def run(name, body):
    """Run one test body(name) in the namespace; print PASS/FAIL; return the process exit code."""
    enter_netns()
    started = time.monotonic()
    try:
        body(name)
    except TestFailure as failure:
        print(f"FAIL {name} ({time.monotonic() - started:.1f}s): {failure}", flush=True)
        return 1
    except Exception:
        traceback.print_exc()
        print(f"FAIL {name} ({time.monotonic() - started:.1f}s): unexpected error", flush=True)
        return 1
    print(f"PASS {name} ({time.monotonic() - started:.1f}s)", flush=True)
    return 0

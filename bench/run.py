"""`make bench`: every figure of issue 6 against its target and, for speed, against a floor
measured in the same run (shared, noisy machines: only ratios mean anything).

    .venv/bin/python -m bench.run            # everything (what `make bench` runs)
    .venv/bin/python -m bench.run --only pages,weight

PostgreSQL and Redis come from DATABASE_URL and REDIS_URL (defaults below). The bench owns
its database: it drops and re-creates it, so its name must contain "bench". Prints a table
and writes bench/results.json; docs/performance.md explains each figure.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import re
import resource
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import time as clock
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
RESULTS = ROOT / "bench" / "results.json"
PY = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/aftercare_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"

PAGE_ROUNDS = int(os.environ.get("BENCH_PAGE_ROUNDS", "200"))
DASHBOARD_CLIENTS = 500
SEND_COUNT = int(os.environ.get("BENCH_SEND_COUNT", "400"))
LOAD_USERS = 50
LOAD_SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "40"))
PLAN_COUNTS = (10_000, 100_000, 1_000_000)  # --without-1m leaves the last one out
FLAT_CLIENTS = 50_000  # one big practice: the dashboard's cost must not grow with it
STEADY_TICKS = 5  # ticks with nothing new to plan, timed after planning
WEB_WORKERS = "3"  # bin/start-web's default (WEB_CONCURRENCY)
KB = 1000

PARTS = ("pages", "weight", "load", "sending", "reminders", "video")


def bench_environment() -> dict[str, str]:
    """Production settings (DEBUG off) with the bench's URLs, plain HTTP on loopback."""
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="0",
        SECRET_KEY="bench-only-not-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SITE_URL="http://127.0.0.1",
        STATIC_ROOT=str(VAR / "static"),
        VAR_DIR=str(VAR),
        EMAIL_URL="locmem:",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env.pop("CELERY_BROKER_URL", None)
    env.pop("ANYMAIL_PROVIDER", None)
    return env


# --- results --------------------------------------------------------------------------------


class Results:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        target: str,
        met: bool,
        floor: float | None = None,
        note: str = "",
    ) -> None:
        row: dict = {"name": name, "value": round(value, 3), "unit": unit, "target": target}
        if floor is not None:
            row["floor"] = round(floor, 3)
        row["met"] = bool(met)
        if note:
            row["note"] = note
        self.rows.append(row)
        print(f"  {name}: {row['value']} {unit} (target {target}) {'met' if met else 'MISSED'}")

    def not_run(self, name: str, target: str, reason: str) -> None:
        """A figure this run could not measure: said so, never counted as met."""
        self.rows.append(
            {
                "name": name,
                "value": None,
                "unit": "not run",
                "target": target,
                "met": False,
                "note": reason,
            }
        )
        print(f"  {name}: NOT RUN ({reason})")

    def table(self) -> str:
        lines = [
            f"{'figure':<34} {'value':>11} {'unit':<8} {'floor':>10} {'ratio':>6}  "
            f"{'target':<30} met",
            "-" * 110,
        ]
        for row in self.rows:
            floor = row.get("floor")
            ratio = f"{row['value'] / floor:.2f}x" if floor and row["value"] is not None else ""
            value = "-" if row["value"] is None else row["value"]
            lines.append(
                f"{row['name']:<34} {value:>11} {row['unit']:<8} "
                f"{'' if floor is None else floor:>10} {ratio:>6}  {row['target']:<30} "
                f"{'yes' if row['met'] else 'NO'}"
            )
        return "\n".join(lines)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def mode(values: list[int]) -> int:
    return statistics.mode(values)


# --- services -------------------------------------------------------------------------------


def database_reset(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"bench: refusing to drop database {name!r}: its name must contain 'bench'.")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def redis_check(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=3).ping()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """The production server with the bench's WSGI wrapper, on a free loopback port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.log = open(VAR / "gunicorn.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(Path(PY).parent / "gunicorn"),
                "bench.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                WEB_WORKERS,
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if request(self.port, "/bench/floor/").status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not start: see {self.log.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Reply:
    def __init__(self, response: http.client.HTTPResponse, body: bytes) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = body
        self.server_ms = float(response.headers.get("X-Bench-Ms") or "nan")
        self.queries = int(response.headers.get("X-Bench-Queries") or "-1")


def request(
    port: int,
    path: str,
    *,
    session: str | None = None,
    encoding: str | None = None,
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": f"127.0.0.1:{port}", "User-Agent": "aftercare-bench"}
    if session:
        headers["Cookie"] = f"sessionid={session}"
    if encoding:
        headers["Accept-Encoding"] = encoding
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return Reply(response, response.read())
    finally:
        connection.close()


# --- data -----------------------------------------------------------------------------------


class Scene:
    """Who the pages, the weight and the load are measured with."""

    def __init__(self) -> None:
        from aftercare.rules.phases import Phase
        from bench import data

        mix = (Phase.FLARE, Phase.SUBSIDING, Phase.MAINTENANCE)
        zones = ("Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata")
        big = data.practice_make("pages")
        self.small_id = data.clients_make(big, 1, tag="small", logs_per_client=2)[0]
        self.large_id = data.clients_make(big, 1, tag="large", step_copies=8, logs_per_client=2)[0]
        # The template client and these two count among the 500.
        data.clients_make(
            big, DASHBOARD_CLIENTS - 3, tag="crowd", zones=zones, phases=mix, logs_per_client=2
        )
        few = data.practice_make("few")
        data.clients_make(few, 49, tag="few", zones=zones, phases=mix, logs_per_client=2)
        self.practice_sizes = (big.practice.clients.count(), few.practice.clients.count())
        huge = data.practice_make("huge")  # one clinic with 50,000 clients
        data.clients_make(
            huge, FLAT_CLIENTS - 1, tag="huge", zones=zones, phases=mix, logs_per_client=2
        )
        self.huge_size = huge.practice.clients.count()
        self.huge_session = data.session_for(huge.therapist.user)
        load = data.practice_make("load")
        self.load_ids = data.clients_make(load, LOAD_USERS, tag="load", logs_per_client=2)
        small, large = data.client(self.small_id), data.client(self.large_id)
        self.small_steps, self.large_steps = data.steps_of(small.id), data.steps_of(large.id)
        self.small_session = data.session_for(small.user)
        self.large_session = data.session_for(large.user)
        self.therapist_session = data.session_for(big.therapist.user)
        self.few_session = data.session_for(few.therapist.user)

    def load_links(self) -> list[str]:
        from sesame.utils import get_query_string

        from bench import data

        return [
            "/c/login/" + get_query_string(data.client(client_id).user)
            for client_id in self.load_ids
        ]


# --- 1. pages -------------------------------------------------------------------------------


def pages(results: Results, server: Gunicorn, scene: Scene) -> None:
    print(f"pages: {PAGE_ROUNDS} interleaved rounds under gunicorn ({WEB_WORKERS} workers)")
    probes: dict[str, tuple[str, str]] = {
        "today": ("/c/", scene.small_session),
        "today_large": ("/c/", scene.large_session),
        "client_floor": ("/bench/floor/", scene.small_session),
        "dashboard": ("/t/", scene.therapist_session),
        "dashboard_few": ("/t/", scene.few_session),
        "dashboard_huge": ("/t/", scene.huge_session),
        "therapist_floor": ("/bench/floor/", scene.therapist_session),
    }
    times: dict[str, list[float]] = {name: [] for name in probes}
    queries: dict[str, list[int]] = {name: [] for name in probes}
    for round_ in range(PAGE_ROUNDS + 10):
        for name, (path, session) in probes.items():
            reply = request(server.port, path, session=session)
            if reply.status != 200:
                raise RuntimeError(f"{name}: {path} answered {reply.status}")
            if round_ >= 10:  # the first rounds warm every worker up
                times[name].append(reply.server_ms)
                queries[name].append(reply.queries)
    for page, floor, ratio in (("today", "client_floor", 2), ("dashboard", "therapist_floor", 3)):
        for label, share in (("median", 0.5), ("p95", 0.95)):
            value = percentile(times[page], share)
            base = percentile(times[floor], share)
            note = ""
            if page == "today":
                large = percentile(times["today_large"], share)
                note = f"{scene.small_steps} steps; with {scene.large_steps}: {large:.1f} ms"
            if page == "dashboard":
                few = percentile(times["dashboard_few"], share)
                note = f"{scene.practice_sizes[0]} clients; with {scene.practice_sizes[1]}: {few:.1f} ms"
            results.add(
                f"{page}_{label}_ms",
                value,
                "ms",
                f"<= {ratio}x floor",
                value <= ratio * base,
                floor=base,
                note=note,
            )
    median, huge = percentile(times["dashboard"], 0.5), percentile(times["dashboard_huge"], 0.5)
    results.add(
        "dashboard_flat_ratio",
        huge / median,
        "ratio",
        "<= 1.25",
        huge / median <= 1.25,
        note=f"median {huge:.1f} ms with {scene.huge_size:,} clients in one practice / "
        f"{median:.1f} ms with {scene.practice_sizes[0]}; queries {mode(queries['dashboard_huge'])}",
    )
    small, large = mode(queries["today"]), mode(queries["today_large"])
    results.add(
        "today_queries",
        max(small, large),
        "queries",
        "<= 4, same for any plan size",
        small == large and max(small, large) <= 4,
        note=f"{small} with {scene.small_steps} steps, {large} with {scene.large_steps} steps",
    )
    many, few = mode(queries["dashboard"]), mode(queries["dashboard_few"])
    results.add(
        "dashboard_queries",
        max(many, few),
        "queries",
        "<= 5, same for any client count",
        many == few and max(many, few) <= 5,
        note=f"{many} with {scene.practice_sizes[0]} clients, {few} with {scene.practice_sizes[1]}",
    )
    floor_queries = mode(queries["client_floor"])
    print(f"  (the floor view runs {floor_queries} queries: session and user)")


def decoded(reply: Reply) -> bytes:
    encoding = reply.headers.get("Content-Encoding")
    if encoding == "gzip":
        return gzip.decompress(reply.body)
    if encoding == "br":
        import brotli

        return brotli.decompress(reply.body)
    return reply.body


# --- 5. weight ------------------------------------------------------------------------------


def weight(results: Results, server: Gunicorn, scene: Scene) -> None:
    """Bytes of the Today page and everything it loads before a video is tapped."""
    print("weight: Today and its CSS, JS and fonts, compressed")
    accept = "gzip, br"
    page = request(server.port, "/c/", session=scene.small_session, encoding=accept)
    html = page.body
    if page.headers.get("Content-Encoding"):
        html_bytes = len(html)
        how = f"HTML {page.headers['Content-Encoding']} as served"
    else:
        # Django sends HTML uncompressed (no GZipMiddleware: BREACH); the TLS proxy in front
        # compresses it. Count what gzip -6 makes of it.
        html_bytes = len(gzip.compress(html, compresslevel=6))
        how = f"HTML {len(html)} B raw, gzip -6 by the proxy"
    text = html.decode()
    assets = re.findall(
        r'<link[^>]+rel="(?:stylesheet|preload|modulepreload)"[^>]*href="([^"]+)"', text
    )
    assets += re.findall(r'<script[^>]+src="([^"]+)"', text)
    sizes = {"html": html_bytes}
    seen: set[str] = set()
    while assets:
        url = assets.pop(0)
        if url in seen or not url.startswith("/"):
            continue  # a third-party URL would be a finding in itself: CSP forbids it
        seen.add(url)
        reply = request(server.port, url, encoding=accept)
        if reply.status != 200:
            raise RuntimeError(f"weight: {url} answered {reply.status}")
        sizes[url] = len(reply.body)
        if url.split("?")[0].endswith(".css"):
            css = decoded(reply).decode()
            base = url.rsplit("/", 1)[0]
            for found in re.findall(r"url\(['\"]?([^'\")]+)['\"]?\)", css):
                if not found.startswith("data:"):
                    assets.append(found if found.startswith("/") else f"{base}/{found}")
    total = sum(sizes.values())
    detail = ", ".join(f"{Path(name).name or name} {size} B" for name, size in sizes.items())
    results.add(
        "today_weight_compressed",
        total / KB,
        "KB",
        "<= 50 KB",
        total <= 50 * KB,
        note=f"{how}; {detail}",
    )


# --- 4. load --------------------------------------------------------------------------------


def load(results: Results, server: Gunicorn, scene: Scene, env: dict[str, str]) -> None:
    print(f"load: locust, {LOAD_USERS} phone clients for {LOAD_SECONDS} s on 127.0.0.1")
    import importlib.util

    if importlib.util.find_spec("locust") is None:  # `make bench` installs it first
        for name in ("load_p50_ms", "load_p95_ms", "load_errors"):
            results.not_run(name, "<= 200 ms" if "ms" in name else "0", "locust not installed")
        return
    links = VAR / "links.txt"
    links.write_text("\n".join(scene.load_links()) + "\n")
    prefix = VAR / "locust"
    for old in VAR.glob("locust_*.csv"):
        old.unlink()
    subprocess.run(
        [
            str(Path(PY).parent / "locust"),
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "--only-summary",
            "--users",
            str(LOAD_USERS),
            "--spawn-rate",
            "10",
            "--reset-stats",  # count the steady flow, not the 5 s in which phones log in
            "--run-time",
            f"{LOAD_SECONDS}s",
            "--stop-timeout",
            "10",
            "--host",
            f"http://127.0.0.1:{server.port}",
            "--csv",
            str(prefix),
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env={**env, "BENCH_LINKS": str(links)},
        stdout=open(VAR / "locust.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        timeout=LOAD_SECONDS + 120,
        check=False,
    )
    import csv

    with open(f"{prefix}_stats.csv") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows["Aggregated"]
    count, failures = int(total["Request Count"]), int(total["Failure Count"])
    p50, p95 = float(total["50%"]), float(total["95%"])
    rate = float(total["Requests/s"])
    note = (
        f"{count} requests at {rate:.1f}/s after all {LOAD_USERS} phones logged in; "
        f"{LOAD_SECONDS} s in all, 2-5 s think time before each tap"
    )
    results.add("load_p50_ms", p50, "ms", "<= 200 ms", p50 <= 200, note=note)
    results.add("load_p95_ms", p95, "ms", "<= 200 ms", p95 <= 200, note=note)
    results.add("load_errors", failures, "errors", "0", failures == 0 and count > 0, note=note)


# --- 6. videos under load -------------------------------------------------------------------

VIDEO_MB = int(os.environ.get("BENCH_VIDEO_MB", "50"))
VIDEO_STREAMS = 20
VIDEO_STREAM_KBPS = 5_000  # a phone on good Wi-Fi: 5 Mbit/s each, 100 Mbit/s in all
VIDEO_BLOCKS = int(os.environ.get("BENCH_VIDEO_BLOCKS", "6"))  # idle/streaming blocks, in turn
VIDEO_BLOCK_REQUESTS = 25


def nginx_binary() -> str | None:
    import shutil

    found = shutil.which("nginx")
    if found:
        return found
    return next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


class Nginx:
    """deploy/nginx.conf itself, with this machine's paths and ports swapped in (the
    same swaps as tests/test_video_accel.py), in front of the bench's gunicorn."""

    def __init__(self, binary: str, upstream_port: int, media: Path, static: Path) -> None:
        folder = VAR / "nginx"
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        built = subprocess.run([binary, "-V"], capture_output=True, text=True).stderr
        temp = "".join(
            f"    {name}_temp_path {folder / name};\n"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            if name == "client_body" or f"--http-{name}-temp-path" in built
        )
        swaps = {
            "user nginx;": "user root;" if os.geteuid() == 0 else "",
            "worker_processes auto;": (
                f"worker_processes auto;\npid {folder / 'nginx.pid'};\n"
                f"error_log {folder / 'error.log'};"
            ),
            "http {\n": "http {\n" + temp,
            "access_log /var/log/nginx/access.log;": f"access_log {folder / 'access.log'};",
            "server web:8000;": f"server 127.0.0.1:{upstream_port};",
            "listen 80;": f"listen 127.0.0.1:{self.port};",
            "alias /srv/media/;": f"alias {media}/;",
            "alias /srv/static/;": f"alias {static}/;",
        }
        text = (ROOT / "deploy" / "nginx.conf").read_text()
        for old, new in swaps.items():
            if text.count(old) != 1:
                raise RuntimeError(f"deploy/nginx.conf no longer has {old!r} once")
            text = text.replace(old, new)
        conf = folder / "nginx.conf"
        conf.write_text(text)
        self.process = subprocess.Popen(
            [binary, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "stderr.log", "wb"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nginx did not start: see {folder / 'stderr.log'}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def stream(port: int, path: str, stop) -> int:
    """One phone playing the video through nginx at VIDEO_STREAM_KBPS, again and again."""
    chunk = 64 * 1024
    pause = chunk * 8 / (VIDEO_STREAM_KBPS * 1000)
    received = 0
    while not stop.is_set():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
            response = connection.getresponse()
            if response.status != 200:
                raise RuntimeError(f"video: {path} answered {response.status}")
            while not stop.is_set():
                data = response.read(chunk)
                if not data:
                    break
                received += len(data)
                time.sleep(pause)
        finally:
            connection.close()
    return received


def play(port: int, path: str, stop, counts: list[int]) -> None:
    counts.append(stream(port, path, stop))


def video(results: Results, env: dict[str, str]) -> None:
    """Today's p95 through nginx while 20 phones stream a 50 MB video, over idle."""
    import threading
    import uuid

    from aftercare.models import PlanStep
    from bench import data

    target = (
        f"<= 1.5 (Today's p95 while {VIDEO_STREAMS} clients stream a {VIDEO_MB} MB video / idle)"
    )
    binary = nginx_binary()
    if binary is None:
        results.not_run("video_load_today_p95_ratio", target, "nginx is not installed")
        return
    print(f"video: Today through nginx, idle and while {VIDEO_STREAMS} phones stream a video")
    media = VAR / "media"
    (media / "videos").mkdir(parents=True, exist_ok=True)
    name = f"videos/{uuid.uuid4().hex}.mp4"
    with open(media / name, "wb") as handle:
        block = os.urandom(1024 * 1024)
        for _ in range(VIDEO_MB):
            handle.write(block)
    bench = data.practice_make("video")
    client_id = data.clients_make(bench, 1, tag="video", logs_per_client=2)[0]
    PlanStep.objects.filter(plan__client_id=client_id).update(video_file=name)
    session = data.session_for(data.client(client_id).user)
    video_env = {
        **env,
        "VIDEO_ACCEL_REDIRECT_PREFIX": "/protected-media/",
        "MEDIA_ROOT": str(media),
        "TRUSTED_PROXIES": "1",
    }
    server = Gunicorn(video_env)
    proxy = None
    try:
        proxy = Nginx(binary, server.port, media, VAR / "static")
        path = "/media/" + name
        probe = request(proxy.port, path)  # the video is served, and by nginx
        if probe.status != 200 or len(probe.body) != VIDEO_MB * 1024 * 1024:
            raise RuntimeError(f"video: {path} answered {probe.status}, {len(probe.body)} B")

        def today() -> float:
            started = time.perf_counter()
            reply = request(proxy.port, "/c/", session=session)
            if reply.status != 200:
                raise RuntimeError(f"video: Today answered {reply.status}")
            return (time.perf_counter() - started) * 1000

        for _ in range(10):
            today()  # warm every worker up
        idle: list[float] = []
        loaded: list[float] = []
        streamed = 0
        for _ in range(VIDEO_BLOCKS):
            idle += [today() for _ in range(VIDEO_BLOCK_REQUESTS)]
            stop = threading.Event()
            counts: list[int] = []
            threads = [
                threading.Thread(target=play, args=(proxy.port, path, stop, counts))
                for _ in range(VIDEO_STREAMS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(2)  # every stream under way
            loaded += [today() for _ in range(VIDEO_BLOCK_REQUESTS)]
            stop.set()
            for thread in threads:
                thread.join(60)
            streamed += sum(counts)
    finally:
        if proxy is not None:
            proxy.stop()
        server.stop()
    quiet, busy = percentile(idle, 0.95), percentile(loaded, 0.95)
    results.add(
        "video_load_today_p95_ratio",
        busy / quiet,
        "ratio",
        "<= 1.5",
        busy / quiet <= 1.5,
        note=f"Today's p95 through nginx {busy:.1f} ms while {VIDEO_STREAMS} phones stream a "
        f"{VIDEO_MB} MB video at {VIDEO_STREAM_KBPS // 1000} Mbit/s each "
        f"({streamed / 1e6:.0f} MB sent by nginx), {quiet:.1f} ms idle; "
        f"{len(loaded)} requests each, in {VIDEO_BLOCKS} alternating blocks",
    )


# --- 3. sending -----------------------------------------------------------------------------


def zone_at_ten() -> str:
    """A fixed-offset zone where the local time is now 10:xx (outside quiet hours)."""
    from django.utils import timezone

    offset = ((10 - timezone.now().hour + 12) % 24) - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def sending(results: Results) -> None:
    from django.db.models import Count
    from django.test.utils import override_settings
    from django.utils import timezone

    from aftercare import tasks
    from aftercare.models import Plan, PlanStep, Reminder
    from aftercare.outbox import emails, reminders
    from bench import data

    warm = 20
    print(f"sending: {SEND_COUNT} reminders through the send task vs raw smtplib")
    bench = data.practice_make("send")
    ids = data.clients_make(
        bench,
        SEND_COUNT + warm,
        tag="send",
        zones=(zone_at_ten(),),
        morning=clock(10, 0),
        evening=clock(19, 0),
    )
    now = timezone.now()
    rows = []
    plans = (
        Plan.objects.filter(client_id__in=ids, ended_at=None)
        .select_related("client")
        .prefetch_related("steps")
    )
    for plan in plans:
        today = plan.client.local_today()
        slot = next(s for s in reminders.routine_slots(plan, today, 1) if str(s.name) == "morning")
        rows.append(
            Reminder(
                client_id=plan.client_id,
                plan=plan,
                kind=Reminder.Kind.ROUTINE,
                slot_key=reminders.schedule.slot_key(slot),
                slot_day=slot.day,
                due_at=slot.utc,
                status=Reminder.Status.QUEUED,
                queued_at=now,
            )
        )
    Reminder.objects.bulk_create(rows)
    queued = list(
        Reminder.objects.filter(client_id__in=ids).order_by("id").values_list("id", flat=True)
    )
    # The floor's messages: the very same emails, rendered before anything is timed
    # (with their slot, as the app sends them: the steps of the morning routine).
    floor_messages = {}
    for reminder in reminders._load_rows(queued):
        slot = reminders.slot_of(reminder)
        message = emails.reminder_message(reminder, now=now, slot=slot)
        floor_messages[reminder.id] = (
            message.from_email,
            message.recipients(),
            message.message().as_bytes(linesep="\r\n"),
        )
    assert PlanStep.objects.filter(plan__client_id__in=ids).exists()
    sink = subprocess.Popen(
        [PY, "-m", "bench.sink"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(sink.stdout.readline())

        def raw(batch: list[int]) -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                for reminder_id in batch:
                    sender, recipients, content = floor_messages[reminder_id]
                    smtp.sendmail(sender, recipients, content)

        smtp_settings = {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": port,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
        }
        app_seconds = floor_seconds = 0.0
        with override_settings(**smtp_settings):
            tasks.send_reminders(queued[:warm])  # templates and connections warm up
            raw(queued[:warm])
            measured = queued[warm:]
            # Interleaved, batch by batch, so a noisy neighbour hits both alike.
            for batch in reminders.batches(measured):
                started = time.perf_counter()
                tasks.send_reminders(batch)
                app_seconds += time.perf_counter() - started
                started = time.perf_counter()
                raw(batch)
                floor_seconds += time.perf_counter() - started
        sink.stdin.write("count\n")
        sink.stdin.flush()
        received = int(sink.stdout.readline())
    finally:
        sink.stdin.close()
        sink.wait(20)
    statuses = dict(
        Reminder.objects.filter(id__in=measured).values_list("status").annotate(n=Count("id"))
    )
    sent = statuses.get(Reminder.Status.SENT, 0)
    if sent != len(measured) or received != 2 * len(queued):
        reasons = set(
            Reminder.objects.filter(id__in=measured).exclude(status="sent").values_list("reason")
        )
        raise RuntimeError(
            f"sending: {sent}/{len(measured)} sent, sink got {received}; {statuses} {reasons}"
        )
    rate, floor_rate = len(measured) / app_seconds, len(measured) / floor_seconds
    results.add(
        "send_rate",
        rate,
        "emails/s",
        ">= 0.5x floor",
        rate >= 0.5 * floor_rate,
        floor=floor_rate,
        note=f"{len(measured)} reminders; floor: smtplib, one connection per batch of "
        f"{reminders.SEND_BATCH}",
    )


# --- 2. reminders ---------------------------------------------------------------------------


def reminders_part(results: Results, env: dict[str, str], counts: tuple[int, ...]) -> None:
    measured = {}
    for plans in counts:
        print(f"reminders: planning and claiming for {plans:,} active plans (own process)")
        # The data is made by a process of its own, so the measuring process holds only
        # what planning and claiming need (not the memory left by making a million clients).
        for flag in ("--reminders-data", "--reminders-child"):
            child = subprocess.run(
                [PY, "-m", "bench.run", flag, str(plans)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=3600,
                check=False,
            )
            if child.returncode != 0:
                raise RuntimeError(f"reminders {flag} failed:\n{child.stdout}\n{child.stderr}")
        measured[plans] = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"  {measured[plans]}")
    for plans, found in measured.items():
        seconds = found["plan_s"] + found["claim_s"]
        results.add(
            f"reminders_plan_claim_{size_name(plans)}_s",
            seconds,
            "s",
            "<= 2x floor",
            seconds <= 2 * found["floor_s"],
            floor=found["floor_s"],
            note=f"{found['rows']:,} rows: planning {found['plan_s']:.2f} s, claiming "
            f"{found['claim_s']:.2f} s; floor: one INSERT ... ON CONFLICT DO NOTHING",
        )
    for plans, found in measured.items():
        if plans < 100_000:
            continue
        base = measured.get(100_000)
        steady = found["tick_steady_s"]
        target, met = "<= 0.5 s", steady <= 0.5
        if plans > 100_000 and base:
            target += ", <= 2x the 100k tick"
            met = met and steady <= 2 * base["tick_steady_s"]
        results.add(
            f"tick_steady_{size_name(plans)}_s",
            steady,
            "s",
            target,
            met,
            floor=base["tick_steady_s"] if plans > 100_000 and base else None,
            note=f"median of {STEADY_TICKS} whole beat ticks (plan, re-check, digests, claim, "
            f"sweep) with {plans:,} planned plans and nothing new; planning part "
            f"{found['tick_plan_s'] * 1000:.1f} ms, {found['tick_plan_queries']} queries",
        )
    sizes = sorted(measured)
    for smaller, bigger in zip(sizes, sizes[1:], strict=False):
        small, big = measured[smaller], measured[bigger]
        results.add(
            f"reminders_peak_rss_{size_name(bigger)}_mb",
            big["peak_rss_mb"],
            "MB",
            f"flat: <= 1.25x the {size_name(smaller)} run",
            big["peak_rss_mb"] <= 1.25 * small["peak_rss_mb"],
            floor=small["peak_rss_mb"],
            note=f"peak RSS of the process; {size_name(smaller)} plans is the floor; grew "
            f"{big['rss_growth_mb']:.1f} MB vs {small['rss_growth_mb']:.1f} MB while planning",
        )


def size_name(plans: int) -> str:
    return f"{plans // 1_000_000}m" if plans >= 1_000_000 else f"{plans // 1000}k"


def peak_rss_mb() -> float:
    """The process's peak RSS since the last reset_peak_rss() (VmHWM), else since it began."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Start the peak over from now (Linux: "5" to clear_refs resets VmHWM), so making
    the bench's data (a million ids) does not count as planning's memory."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass  # elsewhere the peak is the whole process's


def reminders_data(plans: int) -> None:
    """`plans` active plans in the bench's plans practice (made here, in a process of its
    own: the measuring process must not start with the memory this leaves behind)."""
    from django.utils import timezone

    from aftercare.models import Plan, PlanningBookmark
    from aftercare.rules.phases import Phase
    from bench import data
    from clients.models import Practice

    practice = Practice.objects.filter(name="Bench practice plans").first()
    if practice is None:
        bench = data.practice_make("plans")
    else:
        bench = data.BenchPractice(
            practice, practice.therapists.get(), Plan.objects.get(client__name="Template plans")
        )
    # Only this practice's plans count: every other bench plan ends here, and its
    # bookmark goes (as the planner drops an ended plan's: not timed here).
    Plan.objects.filter(ended_at=None).exclude(client__practice=bench.practice).update(
        ended_at=timezone.now()
    )
    PlanningBookmark.objects.exclude(plan__ended_at=None).delete()
    active = Plan.objects.filter(ended_at=None).count()
    if plans > active:
        data.clients_make(
            bench,
            plans - active,
            tag=f"plans{active}",
            zones=("Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"),
            phases=(Phase.FLARE, Phase.SUBSIDING, Phase.MAINTENANCE),
        )


def reminders_child(plans: int) -> None:
    """Runs in its own process so its peak memory is its own: plans every plan (made by
    reminders_data), claims every row, then the floor and the steady ticks."""
    import gc

    from django.db import connection, transaction
    from django.utils import timezone

    from aftercare.models import Plan, Reminder
    from aftercare.outbox import reminders
    from bench import data

    assert Plan.objects.filter(ended_at=None).count() == plans
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE aftercare_reminder")
        cursor.execute("UPDATE aftercare_planningbookmark SET planned_until = NULL")  # all
        cursor.execute("VACUUM aftercare_planningbookmark")  # as autovacuum would after it
    data.analyze()
    gc.collect()
    reset_peak_rss()
    rss_before = peak_rss_mb()
    now = timezone.now()
    started = time.perf_counter()
    reminders.reminders_plan_due(now=now, limit=None)  # every plan, as on a first tick
    plan_s = time.perf_counter() - started
    data.analyze()  # what autovacuum does for a table that just grew from nothing
    # Claim every planned row, tick after tick (CLAIM_LIMIT each), as if all were due.
    due = now + reminders.HORIZON + timedelta(minutes=1)
    started = time.perf_counter()
    claimed = 0
    while ids := reminders.reminders_claim(now=due):
        claimed += len(ids)
    claim_s = time.perf_counter() - started
    peak = peak_rss_mb()
    rows = Reminder.objects.count()
    assert claimed == rows, (claimed, rows)
    # The floor: the same rows, written by one raw INSERT ... ON CONFLICT DO NOTHING.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT client_id, plan_id, kind, slot_key, slot_day, due_at FROM aftercare_reminder"
        )
        columns = list(zip(*cursor.fetchall(), strict=True)) or [[]] * 6
        cursor.execute("TRUNCATE aftercare_reminder")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO aftercare_reminder
                (client_id, plan_id, kind, slot_key, slot_day, due_at, status, reason,
                 detail, attempts, interrupted, created_at)
            SELECT c, p, k, s, d, t, 'pending', '', '', 0, false, now()
            FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::date[],
                        %s::timestamptz[]) AS r(c, p, k, s, d, t)
            ON CONFLICT DO NOTHING
            """,
            [list(column) for column in columns],
        )
        written = cursor.rowcount
    floor_s = time.perf_counter() - started
    assert written == rows, (written, rows)
    data.analyze()
    steady = steady_ticks()
    print(
        json.dumps(
            {
                "plans": plans,
                "rows": rows,
                "plan_s": plan_s,
                "claim_s": claim_s,
                "floor_s": floor_s,
                "peak_rss_mb": peak,
                "rss_growth_mb": peak - rss_before,
                **steady,
            }
        )
    )


def steady_ticks() -> dict:
    """The whole beat tick, STEADY_TICKS times, with every plan planned and nothing new:
    what every minute costs once the day's rows exist."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from aftercare import tasks
    from aftercare.outbox import reminders

    tasks.tick()  # the day's digests are planned once, by the first tick
    seconds = []
    for _ in range(STEADY_TICKS):
        started = time.perf_counter()
        outcome = tasks.tick()
        seconds.append(time.perf_counter() - started)
        assert outcome["planned"] == 0, outcome
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        reminders.reminders_plan_due()
    plan_s = time.perf_counter() - started
    return {
        "tick_steady_s": statistics.median(seconds),
        "tick_plan_s": plan_s,
        "tick_plan_queries": len(queries),
    }


# --- main -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        memory = int(meminfo.readline().split()[1]) // 1024
    return {"nproc": str(os.cpu_count()), "memory_mb": str(memory), "cpu": model}


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    parser.add_argument(
        "--without-1m", action="store_true", help="leave the 1,000,000-plan figures out"
    )
    parser.add_argument("--reminders-data", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--reminders-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    env = bench_environment()
    if args.reminders_data:
        django_setup(env)
        reminders_data(args.reminders_data)
        return
    if args.reminders_child:
        django_setup(env)
        reminders_child(args.reminders_child)
        return
    parts = [part for part in args.only.split(",") if part]
    unknown = set(parts) - set(PARTS)
    if unknown:
        sys.exit(f"bench: unknown part(s) {', '.join(sorted(unknown))}; choose from {PARTS}")
    VAR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"bench: database {env['DATABASE_URL']}, redis {env['REDIS_URL']}")
    database_reset(env["DATABASE_URL"])
    redis_check(env["REDIS_URL"])
    for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=env, check=True)
    django_setup(env)
    results = Results()
    web_parts: list[tuple[str, Callable]] = [
        ("pages", lambda server, scene: pages(results, server, scene)),
        ("weight", lambda server, scene: weight(results, server, scene)),
        ("load", lambda server, scene: load(results, server, scene, env)),
    ]
    if any(name in parts for name, _ in web_parts):
        scene = Scene()
        server = Gunicorn(env)
        try:
            for name, run in web_parts:
                if name in parts:
                    run(server, scene)
        finally:
            server.stop()
    if "video" in parts:
        video(results, env)
    if "sending" in parts:
        sending(results)
    if "reminders" in parts:
        from django.db import connections

        connections.close_all()
        counts = tuple(n for n in PLAN_COUNTS if not (args.without_1m and n >= 1_000_000))
        reminders_part(results, env, counts)
    info = machine()
    report = results.table()
    print()
    print(
        f"Machine: {info['nproc']} cores, {info['memory_mb']} MB, {info['cpu']}; "
        f"took {time.monotonic() - started:.0f} s"
    )
    print(report)
    RESULTS.write_text(json.dumps(results.rows, indent=2) + "\n")
    (VAR / "table.txt").write_text(report + "\n")
    print(f"\nWrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Videos sent by nginx in production (issue 10): with VIDEO_ACCEL_REDIRECT_PREFIX set the
app only decides, and answers X-Accel-Redirect; nginx sends the bytes and the ranges.

The request-level tests need nothing. The last ones start a real nginx with
deploy/nginx.conf (local paths and ports swapped in) in front of the live test server and
play a video through it (the data migrations' rows are kept: serialized_rollback); they skip when nginx is not installed (`apt-get install
nginx-light`), and fail instead under REQUIRE_SERVICES=1 (.ci/run installs it).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.test.testcases import LiveServerThread

from aftercare.models import Exercise
from tests.test_video_upload import DEMO, body, psoas, with_video

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "/protected-media/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def accel(settings) -> str:
    settings.VIDEO_ACCEL_REDIRECT_PREFIX = PREFIX
    return PREFIX


@pytest.fixture
def stored(practice) -> str:
    """The stored name of an uploaded video an exercise points at (videos/<hex>.mp4)."""
    return with_video(psoas(practice))


def url(name: str) -> str:
    return "/media/" + name


# --- The app's half: decide, then hand over ----------------------------------------------------


def test_python_sends_the_bytes_by_default(client, stored, settings):
    assert settings.VIDEO_ACCEL_REDIRECT_PREFIX == ""
    response = client.get(url(stored), HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert body(response) == DEMO[100:200]
    assert "X-Accel-Redirect" not in response


@pytest.mark.parametrize("range_header", [None, "bytes=0-1", "bytes=999999999-"])
def test_with_the_prefix_it_hands_an_allowed_video_to_nginx(client, stored, accel, range_header):
    extra = {"HTTP_RANGE": range_header} if range_header else {}
    response = client.get(url(stored), **extra)
    # Whatever the range: an empty 200 naming the file; nginx answers the range (or 416).
    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Accel-Redirect"] == PREFIX + stored
    assert response["Content-Type"] == "video/mp4"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Accept-Ranges"] == "bytes"
    assert "Content-Range" not in response
    assert not response.cookies


def test_the_prefix_may_be_written_without_its_last_slash(client, stored, settings):
    settings.VIDEO_ACCEL_REDIRECT_PREFIX = "/protected-media"
    assert client.get(url(stored))["X-Accel-Redirect"] == "/protected-media/" + stored


def test_head_is_handed_over_too_and_nothing_is_written(client, stored, accel):
    assert client.head(url(stored))["X-Accel-Redirect"] == PREFIX + stored
    response = client.post(url(stored))
    assert response.status_code == 405
    assert "X-Accel-Redirect" not in response


def test_a_client_on_an_email_link_is_handed_the_video_too(phone, stored, accel):
    response = phone.get(url(stored), HTTP_RANGE="bytes=0-1")
    assert response["X-Accel-Redirect"] == PREFIX + stored


def test_it_hands_over_no_file_that_is_not_a_served_video(client, practice, media, accel):
    """404 and no header: no exercise or plan step points at it, it is gone, or its name
    is not an upload's, so nginx is never told to send it."""
    orphan = default_storage.save("videos/0123456789abcdef0123456789abcdef.mp4", ContentFile(DEMO))
    gone = with_video(psoas(practice))
    (media / gone).unlink()
    default_storage.save("secret.mp4", ContentFile(DEMO))
    other = Exercise.objects.filter(practice=practice).exclude(video_file=gone).first()
    Exercise.objects.filter(pk=other.pk).update(video_file="secret.mp4")
    for path in [
        url(orphan),
        url(gone),
        "/media/secret.mp4",
        "/media/videos/..%2Fsecret.mp4",
        "/media/videos/%2Fetc%2Fpasswd",
        "/protected-media/" + orphan,
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "X-Accel-Redirect" not in response, path


# --- A real nginx with deploy/nginx.conf -------------------------------------------------------

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_config(folder: Path, port: int, upstream: str, media: Path, static: Path) -> str:
    """deploy/nginx.conf with this machine's paths and ports; every swap must apply, so a
    change to the deploy file cannot leave this test running some other configuration."""
    built = subprocess.run([NGINX, "-V"], capture_output=True, text=True).stderr
    temp = "".join(
        f"    {name}_temp_path {folder / name};\n"
        for name in TEMP_PATHS
        if name == "client_body" or f"--http-{name}-temp-path" in built
    )
    swaps = {
        "user nginx;": "user root;" if os.geteuid() == 0 else "",
        "worker_processes auto;": (
            f"worker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};"
        ),
        "http {\n": "http {\n" + temp,
        "access_log /var/log/nginx/access.log;": f"access_log {folder / 'access.log'};",
        "server web:8000;": f"server {upstream};",
        "listen 80;": f"listen 127.0.0.1:{port};",
        "alias /srv/media/;": f"alias {media}/;",
        "alias /srv/static/;": f"alias {static}/;",
    }
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    for old, new in swaps.items():
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r} once"
        text = text.replace(old, new)
    return text


class AppServerThread(LiveServerThread):
    """The live test server, minus the handler Django puts in front of it to answer
    MEDIA_URL from disk by itself: here every /media/ request must reach the view."""

    def run(self):
        for alias, connection in (self.connections_override or {}).items():
            connections[alias] = connection
        try:
            self.httpd = self._create_server(connections_override=self.connections_override)
            self.port = self.httpd.server_address[1]
            self.httpd.set_app(WSGIHandler())
            self.is_ready.set()
            self.httpd.serve_forever()
        except Exception as error:
            self.error = error
            self.is_ready.set()
        finally:
            connections.close_all()


@pytest.fixture
def app_server(transactional_db) -> str:
    """The app on a local port (sharing an in-memory SQLite test database); host:port."""
    shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
    for connection in shared.values():
        connection.inc_thread_sharing()
    thread = AppServerThread("127.0.0.1", None, connections_override=shared)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"127.0.0.1:{thread.port}"
    thread.terminate()
    for connection in shared.values():
        connection.dec_thread_sharing()


@pytest.fixture
def nginx(app_server, tmp_path, media, accel, require_service):
    """A real nginx on deploy/nginx.conf in front of the live server; its address."""
    require_service("nginx")  # skips without it; fails under REQUIRE_SERVICES=1 (CI)
    folder = tmp_path / "nginx"
    static = tmp_path / "static"
    for path in (folder, static, media / "videos"):
        path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(local_config(folder, port, app_server, media, static))
    check = subprocess.run([NGINX, "-t", "-p", str(folder), "-c", str(conf)], capture_output=True)
    assert check.returncode == 0, check.stderr.decode()
    process = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"nginx did not start: {process.stderr.read().decode()}")
            time.sleep(0.05)
    yield {"port": port, "static": static, "folder": folder}
    process.terminate()
    process.wait(timeout=10)


def fetch(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}", **headers})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_through_nginx_a_range_is_served_by_nginx(nginx, stored):
    port = nginx["port"]
    status, headers, data = fetch(port, url(stored), Range="bytes=100-199")
    assert status == 206
    assert data == DEMO[100:200]
    assert headers["content-range"] == f"bytes 100-199/{len(DEMO)}"
    assert headers["content-type"] == "video/mp4"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["x-content-type-options"] == "nosniff"
    assert "x-accel-redirect" not in headers  # nginx consumed it

    # Safari's probe, the whole file, If-Range with nginx's own ETag, and a 416.
    status, headers, data = fetch(port, url(stored), Range="bytes=0-1")
    assert (status, data) == (206, DEMO[:2])
    status, headers, data = fetch(port, url(stored))
    assert (status, data, headers["accept-ranges"]) == (200, DEMO, "bytes")
    etag = headers["etag"]
    status, _, data = fetch(port, url(stored), Range="bytes=0-1", **{"If-Range": etag})
    assert (status, data) == (206, DEMO[:2])
    status, _, data = fetch(port, url(stored), Range="bytes=0-1", **{"If-Range": '"old"'})
    assert (status, data) == (200, DEMO)
    status, headers, _ = fetch(port, url(stored), Range=f"bytes={len(DEMO)}-")
    assert status == 416


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_through_nginx_the_app_still_decides(nginx, stored, media):
    port = nginx["port"]
    orphan = default_storage.save("videos/0123456789abcdef0123456789abcdef.mp4", ContentFile(DEMO))
    assert fetch(port, url(orphan))[0] == 404  # on disk, but nothing points at it
    # The internal location cannot be asked for directly, not even for a served video.
    status, _, data = fetch(port, "/protected-media/" + stored)
    assert status == 404
    assert DEMO[:100] not in data
    # Everything else is proxied to the app (a page, with the app's own headers).
    status, headers, _ = fetch(port, "/login/")
    assert status == 200
    assert "content-security-policy" in headers


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_through_nginx_hashed_static_files_are_cached_for_a_year(nginx):
    port, static = nginx["port"], nginx["static"]
    (static / "css").mkdir()
    (static / "css" / "app.0123456789ab.css").write_text("body{margin:0}")
    (static / "css" / "app.css").write_text("body{margin:0}")
    status, headers, data = fetch(port, "/static/css/app.0123456789ab.css")
    assert (status, data) == (200, b"body{margin:0}")
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["content-type"].startswith("text/css")
    status, headers, _ = fetch(port, "/static/css/app.css")
    assert (status, headers["cache-control"]) == (200, "public, max-age=60")


def test_the_deploy_config_lets_a_full_size_upload_through():
    limit = re.search(r"client_max_body_size (\d+)m;", (ROOT / "deploy/nginx.conf").read_text())
    assert limit and int(limit.group(1)) > 200  # the form around the file needs a little more


def test_compose_and_the_nginx_config_agree_on_paths():
    """docker compose cannot run here: at least the names both files must share match."""
    compose = (ROOT / "docker-compose.yml").read_text()
    conf = (ROOT / "deploy/nginx.conf").read_text()
    prefix = re.search(r"VIDEO_ACCEL_REDIRECT_PREFIX: (\S+)", compose).group(1)
    internal = re.search(r"location (\S+) \{\s+internal;\s+alias (\S+);", conf)
    assert internal, "deploy/nginx.conf has no internal location"
    assert internal.group(1) == prefix
    assert f"media:{internal.group(2).rstrip('/')}:ro" in compose
    assert "media:/app/var/media" in compose  # the web container's MEDIA_ROOT
    static = re.search(r"location /static/ \{\s+alias (\S+);", conf).group(1)
    assert f"static:{static.rstrip('/')}:ro" in compose
    assert "static:/app/staticfiles" in compose  # the web container's STATIC_ROOT
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in compose
    assert re.search(r"server web:8000;", conf)
    assert re.search(r'expose:\s+- "8000"', compose)

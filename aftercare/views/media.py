"""/media/videos/<filename>: the practice's uploaded exercise videos, with byte ranges.

iPhone Safari plays an MP4 only from a server that answers Range requests with 206
Partial Content, so this view answers one byte range (several ranges in one request are
rare for video: those get the whole file, which HTTP allows). The videos are practice
content, not client data: no login (clients on an email link and the phone's media player
fetch them without cookies), but only files an exercise or a plan step points at are
served, and only by a plain file name, so no other file of MEDIA_ROOT can be reached.
Names are random and a file never changes under its name: it may be cached for a year.

In production the bytes are not streamed by Python at all: with VIDEO_ACCEL_REDIRECT_PREFIX
set (e.g. "/protected-media/"), this view only decides whether the file may be served and
answers an empty 200 with X-Accel-Redirect naming it; nginx (deploy/nginx.conf, an
`internal` location aliasing MEDIA_ROOT) then sends the file, with Range, If-Range and 416
itself, so a sync gunicorn worker is free again in milliseconds instead of holding on for
the length of a 200 MB video. Without the setting (`make run`, the tests) Python serves it.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_safe

from aftercare import videos

CHUNK = 64 * 1024
CACHE_CONTROL = "public, max-age=31536000, immutable"
BYTE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    """The range starts past the end of the file: 416."""


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single range, or None to send the whole file (no Range
    header, several ranges or one HTTP says to ignore); Unsatisfiable for a 416."""
    match = BYTE_RANGE.match(header.replace(" ", ""))
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable
        return max(size - length, 0), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored, as RFC 9110 says
    if start >= size:
        raise Unsatisfiable
    end = min(int(last), size - 1) if last else size - 1
    return start, end


class FileSlice:
    """Streams `length` bytes from `start`, then closes the file (also on a disconnect)."""

    def __init__(self, handle, start: int, length: int) -> None:
        self.handle, self.length = handle, length
        handle.seek(start)

    def __iter__(self):
        left = self.length
        while left > 0:
            chunk = self.handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.handle.close()


@require_safe
def video_file(request: HttpRequest, filename: str) -> HttpResponse:
    name = f"{videos.UPLOAD_DIR}/{filename}"
    if not videos.UPLOAD_NAME.match(filename) or not videos.upload_in_use(name):
        raise Http404("No such video")
    if settings.VIDEO_ACCEL_REDIRECT_PREFIX:
        return _accel_redirect(name, settings.VIDEO_ACCEL_REDIRECT_PREFIX)
    try:
        size = default_storage.size(name)
        handle = default_storage.open(name, "rb")
    except OSError as error:
        raise Http404("No such video") from error
    etag = f'"{filename.removesuffix(".mp4")}-{size:x}"'
    header = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range")
    try:
        wanted = byte_range(header, size) if header and if_range in (None, etag) else None
    except Unsatisfiable:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return _headers(response, etag)
    start, end = wanted or (0, size - 1)
    response = StreamingHttpResponse(
        FileSlice(handle, start, end - start + 1),
        status=206 if wanted else 200,
        content_type="video/mp4",
    )
    response["Content-Length"] = str(max(end - start + 1, 0))
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return _headers(response, etag)


def _accel_redirect(name: str, prefix: str) -> HttpResponse:
    """An empty 200 that hands the file to nginx: it sends the bytes (and the ranges) from
    its internal location `prefix`, which aliases MEDIA_ROOT. nginx keeps this response's
    Content-Type, Cache-Control, Content-Disposition and Accept-Ranges, and makes its own
    ETag and Last-Modified from the file, which If-Range is then checked against."""
    if not default_storage.exists(name):  # the same 404 as the Python path, not nginx's
        raise Http404("No such video")
    response = HttpResponse(content_type="video/mp4")
    response["X-Accel-Redirect"] = quote(prefix.rstrip("/") + "/" + name)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = CACHE_CONTROL
    response["Content-Disposition"] = "inline"
    return response


def _headers(response: HttpResponse, etag: str) -> HttpResponse:
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = CACHE_CONTROL
    response["ETag"] = etag
    response["Content-Disposition"] = "inline"
    return response

"""Exercise videos: which links we accept and how they are embedded.

Only YouTube, Vimeo and MP4 files on hosts the practice lists are accepted (or an MP4
the therapist uploads), so a pasted link can never be a `javascript:` URL or frame an
unknown site. Embeds are privacy-friendly (youtube-nocookie, Vimeo's do-not-track) and
play inline on iPhones.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import parse_qs, urlsplit

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse

YOUTUBE_HOSTS = {
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "youtu.be",
    "www.youtube-nocookie.com",
    "youtube-nocookie.com",
}
VIMEO_HOSTS = {"vimeo.com", "www.vimeo.com", "player.vimeo.com"}
YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
VIMEO_ID = re.compile(r"^\d{4,12}$")
VIMEO_HASH = re.compile(r"^[0-9a-f]{6,20}$")

HELP = "Paste a YouTube or Vimeo link, or the https address of an MP4 file on an allowed host."


@dataclass(frozen=True)
class Video:
    kind: str  # "youtube" | "vimeo" | "mp4"
    source: str  # the iframe src or the MP4 address
    link: str  # what a person opens outside the app (e.g. from an email)
    # A still shown on the Watch button, so it shows what it plays: YouTube's own
    # thumbnail (img-src allows i.ytimg.com). Vimeo's needs an API call and uploads need a
    # video decoder, so those have none here: video.html shows an uploaded file's own
    # first frame and a plain tile for Vimeo (docs/architecture.md, "Video posters").
    poster: str = ""


def parse(url: str) -> Video:
    """The embeddable video behind a pasted link; ValueError says what is wrong."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise ValueError("The video link must start with https://. " + HELP)
    host = (parts.hostname or "").lower()
    if host in YOUTUBE_HOSTS:
        return _youtube(parts)
    if host in VIMEO_HOSTS:
        return _vimeo(parts)
    if parts.scheme == "https" and host in _mp4_hosts() and parts.path.lower().endswith(".mp4"):
        return Video(kind="mp4", source=url, link=url)
    raise ValueError(f"Videos from {host or 'that address'} can't be embedded. " + HELP)


def _youtube(parts) -> Video:
    segments = [s for s in parts.path.split("/") if s]
    if parts.hostname == "youtu.be" and segments:
        video_id = segments[0]
    elif segments[:1] in (["embed"], ["shorts"], ["live"]) and len(segments) > 1:
        video_id = segments[1]
    else:
        video_id = parse_qs(parts.query).get("v", [""])[0]
    if not YOUTUBE_ID.match(video_id):
        raise ValueError("That YouTube link has no video in it. Copy the link from Share.")
    return Video(
        kind="youtube",
        source=f"https://www.youtube-nocookie.com/embed/{video_id}?playsinline=1&rel=0&autoplay=1",
        link=f"https://www.youtube.com/watch?v={video_id}",
        # mqdefault: 320x180, 16:9 like the tile (hqdefault is 4:3 with black bars), ~10 KB.
        poster=f"https://i.ytimg.com/vi/{video_id}/mqdefault.jpg",
    )


def _vimeo(parts) -> Video:
    segments = [s for s in parts.path.split("/") if s]
    if segments[:1] == ["video"]:
        segments = segments[1:]
    video_id = segments[0] if segments else ""
    if not VIMEO_ID.match(video_id):
        raise ValueError("That Vimeo link has no video number in it. Copy the link from Share.")
    private_hash = segments[1] if len(segments) > 1 else parse_qs(parts.query).get("h", [""])[0]
    source = f"https://player.vimeo.com/video/{video_id}?playsinline=1&dnt=1&autoplay=1"
    link = f"https://vimeo.com/{video_id}"
    if private_hash and VIMEO_HASH.match(private_hash):
        source += f"&h={private_hash}"
        link += f"/{private_hash}"
    return Video(kind="vimeo", source=source, link=link)


def _mp4_hosts() -> set[str]:
    site_host = urlsplit(settings.SITE_URL).hostname or ""
    return {h.lower() for h in settings.VIDEO_MP4_HOSTS} | {site_host}


def validate_video_url(value: str) -> None:
    try:
        parse(value)
    except ValueError as error:
        raise ValidationError(str(error), code="video") from error


# --- Uploaded MP4 files ---------------------------------------------------------------------
# Stored under videos/ with a random name (so the file can be cached for a year) and
# served by aftercare.views.media with byte ranges, which iPhone Safari needs to play them.

UPLOAD_DIR = "videos"
UPLOAD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}\.mp4$")


def upload_to(instance, filename: str) -> str:
    return f"{UPLOAD_DIR}/{uuid.uuid4().hex}.mp4"


def upload_help() -> str:
    return (
        f"An MP4 file (from a phone or camera), at most {settings.VIDEO_UPLOAD_MAX_MB} MB. "
        "If the exercise also has a video link, the link is shown: clear it to use the upload."
    )


def validate_upload(upload) -> None:
    """An uploaded file is an .mp4 within the size limit whose bytes 4-8 are `ftyp`."""
    limit_mb = settings.VIDEO_UPLOAD_MAX_MB
    if not (upload.name or "").lower().endswith(".mp4"):
        raise ValidationError(
            "Upload an .mp4 file: other formats don't play on every phone.", code="video_type"
        )
    if upload.size > limit_mb * 1024 * 1024:
        raise ValidationError(
            f"That file is {upload.size / (1024 * 1024):.0f} MB; a video can be at most "
            f"{limit_mb} MB. Export it at a lower resolution (720p is plenty on a phone).",
            code="video_size",
        )
    upload.seek(0)
    head = upload.read(12)
    upload.seek(0)
    if len(head) < 12 or head[4:8] != b"ftyp":
        raise ValidationError(
            "That file isn't an MP4 video, whatever its name says. Export or save it as MP4 "
            "(H.264) and upload it again.",
            code="video_content",
        )


def uploaded(name: str) -> Video:
    """The player source (same origin) and the shareable link of an uploaded file."""
    path = reverse("video-file", args=[PurePosixPath(name).name])
    return Video(kind="mp4", source=path, link=settings.SITE_URL.rstrip("/") + path)


def upload_in_use(name: str) -> bool:
    """Whether an exercise or a plan step still points at this stored file."""
    Exercise = apps.get_model("aftercare", "Exercise")
    PlanStep = apps.get_model("aftercare", "PlanStep")
    return (
        Exercise.objects.filter(video_file=name).exists()
        or PlanStep.objects.filter(video_file=name).exists()
    )


def upload_forget(name: str) -> None:
    """Delete a replaced upload once nothing points at it (plans keep theirs)."""
    if name and not upload_in_use(name):
        default_storage.delete(name)

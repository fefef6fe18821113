"""Exercise videos: which links we accept and how they are embedded.

Only YouTube, Vimeo and MP4 files on hosts the practice lists are accepted, so a
pasted link can never be a `javascript:` URL or frame an unknown site. Embeds are
privacy-friendly (youtube-nocookie, Vimeo's do-not-track) and play inline on iPhones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

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

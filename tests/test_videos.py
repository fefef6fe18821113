"""Which video links the app accepts, and how it embeds them (aftercare.videos)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from aftercare import videos

YT_ID = "dQw4w9WgXcQ"
YT_EMBED = f"https://www.youtube-nocookie.com/embed/{YT_ID}?playsinline=1&rel=0&autoplay=1"
YT_LINK = f"https://www.youtube.com/watch?v={YT_ID}"
VIMEO_ID = "76979871"
VIMEO_HASH = "a1b2c3d4e5"


@pytest.fixture(autouse=True)
def _mp4_hosts(settings):
    settings.VIDEO_MP4_HOSTS = ["cdn.practice.example"]
    settings.SITE_URL = "https://aftercare.practice.example"


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.youtube.com/watch?v={YT_ID}",
        f"https://youtube.com/watch?v={YT_ID}",
        f"https://www.youtube.com/watch?v={YT_ID}&t=42s&list=PL123",
        f"https://m.youtube.com/watch?v={YT_ID}",
        f"https://youtu.be/{YT_ID}",
        f"https://youtu.be/{YT_ID}?si=abcdEFGH",
        f"https://www.youtube.com/shorts/{YT_ID}",
        f"https://youtube.com/shorts/{YT_ID}?feature=share",
        f"https://www.youtube.com/embed/{YT_ID}",
        f"https://www.youtube-nocookie.com/embed/{YT_ID}",
        f"https://youtube-nocookie.com/embed/{YT_ID}?rel=0",
        f"https://www.youtube.com/live/{YT_ID}",
        f"  https://youtu.be/{YT_ID}  ",
        f"HTTPS://WWW.YOUTUBE.COM/watch?v={YT_ID}",
    ],
)
def test_it_embeds_every_youtube_link_shape_through_nocookie(url):
    video = videos.parse(url)
    assert video.kind == "youtube"
    assert video.source == YT_EMBED
    assert video.link == YT_LINK


def test_it_plays_youtube_inline_on_iphone_and_without_tracking_cookies():
    source = videos.parse(f"https://youtu.be/{YT_ID}").source
    assert source.startswith("https://www.youtube-nocookie.com/embed/")
    assert "playsinline=1" in source


def test_it_accepts_plain_http_youtube_links_but_embeds_over_https():
    video = videos.parse(f"http://www.youtube.com/watch?v={YT_ID}")
    assert video.source == YT_EMBED


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch",
        "https://www.youtube.com/watch?v=short",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ<script>",
        "https://youtu.be/",
        "https://www.youtube.com/channel/UC1234567890",
        "https://www.youtube.com/embed/",
    ],
)
def test_it_refuses_a_youtube_link_without_a_video(url):
    with pytest.raises(ValueError, match="YouTube link has no video"):
        videos.parse(url)


@pytest.mark.parametrize(
    "url",
    [
        f"https://vimeo.com/{VIMEO_ID}",
        f"https://www.vimeo.com/{VIMEO_ID}",
        f"http://vimeo.com/{VIMEO_ID}",
        f"https://player.vimeo.com/video/{VIMEO_ID}",
        f"https://player.vimeo.com/video/{VIMEO_ID}?badge=0",
    ],
)
def test_it_embeds_vimeo_through_the_player_with_do_not_track(url):
    video = videos.parse(url)
    assert video.kind == "vimeo"
    assert video.source == (
        f"https://player.vimeo.com/video/{VIMEO_ID}?playsinline=1&dnt=1&autoplay=1"
    )
    assert video.link == f"https://vimeo.com/{VIMEO_ID}"


@pytest.mark.parametrize(
    "url",
    [
        f"https://vimeo.com/{VIMEO_ID}/{VIMEO_HASH}",
        f"https://player.vimeo.com/video/{VIMEO_ID}?h={VIMEO_HASH}",
    ],
)
def test_it_keeps_the_private_hash_of_an_unlisted_vimeo_video(url):
    video = videos.parse(url)
    assert video.source == (
        f"https://player.vimeo.com/video/{VIMEO_ID}?playsinline=1&dnt=1&autoplay=1&h={VIMEO_HASH}"
    )
    assert video.link == f"https://vimeo.com/{VIMEO_ID}/{VIMEO_HASH}"


def test_it_drops_a_vimeo_hash_that_is_not_a_hash():
    video = videos.parse(f'https://player.vimeo.com/video/{VIMEO_ID}?h="><script>')
    assert "script" not in video.source
    assert "&h=" not in video.source


@pytest.mark.parametrize(
    "url", ["https://vimeo.com/", "https://vimeo.com/about", "https://player.vimeo.com/video/abc"]
)
def test_it_refuses_a_vimeo_link_without_a_video_number(url):
    with pytest.raises(ValueError, match="Vimeo link has no video number"):
        videos.parse(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.practice.example/videos/si-reset.mp4",
        "https://CDN.practice.example/videos/SI-RESET.MP4",
        "https://cdn.practice.example/videos/si-reset.mp4?token=abc",
        "https://aftercare.practice.example/media/videos/psoas.mp4",
    ],
)
def test_it_embeds_an_mp4_on_an_allowed_host_or_the_site_itself(url):
    video = videos.parse(url)
    assert video.kind == "mp4"
    assert video.source == url.strip()
    assert video.link == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/videos/si-reset.mp4",
        "https://cdn.practice.example.evil.example/si-reset.mp4",
        "https://evil.example/cdn.practice.example/si-reset.mp4",
        "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
        "https://evil.example/#https://youtu.be/dQw4w9WgXcQ",
    ],
)
def test_it_refuses_a_video_on_an_unknown_host(url):
    with pytest.raises(ValueError, match="can't be embedded"):
        videos.parse(url)


def test_it_refuses_an_mp4_over_plain_http_even_on_an_allowed_host():
    with pytest.raises(ValueError):
        videos.parse("http://cdn.practice.example/videos/si-reset.mp4")


def test_it_refuses_a_file_on_an_allowed_host_that_is_not_an_mp4():
    with pytest.raises(ValueError):
        videos.parse("https://cdn.practice.example/videos/si-reset.html")


def test_it_only_trusts_hosts_the_settings_list(settings):
    settings.VIDEO_MP4_HOSTS = []
    with pytest.raises(ValueError):
        videos.parse("https://cdn.practice.example/videos/si-reset.mp4")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)//https://youtu.be/dQw4w9WgXcQ",
        " javascript:alert(1)",
        "data:video/mp4;base64,AAAAIGZ0eXBpc29t",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "ftp://cdn.practice.example/si-reset.mp4",
        "//youtu.be/dQw4w9WgXcQ",
        "youtu.be/dQw4w9WgXcQ",
        "not a link at all",
        "",
        None,
    ],
)
def test_it_refuses_dangerous_schemes_and_garbage(url):
    with pytest.raises(ValueError, match="must start with https://"):
        videos.parse(url)


def test_it_reports_a_refused_link_as_a_validation_error():
    with pytest.raises(ValidationError) as caught:
        videos.validate_video_url("javascript:alert(1)")
    assert caught.value.code == "video"
    assert "https://" in caught.value.messages[0]


def test_it_validates_a_good_link_silently():
    assert videos.validate_video_url(f"https://youtu.be/{YT_ID}") is None
    assert videos.validate_video_url(f"https://vimeo.com/{VIMEO_ID}") is None
    assert videos.validate_video_url("https://cdn.practice.example/a.mp4") is None

"""The Watch button shows what it plays (issue 11): YouTube's thumbnail, an uploaded
video's own first frame on the whole plan (a plain tile on Today, which must stay light),
a plain tile for Vimeo; the player itself still loads only on a tap, and the content
security policy allows exactly the thumbnail host."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from aftercare import videos
from aftercare.models import PlanStep

YT_ID = "dQw4w9WgXcQ"
THUMBNAIL = f"https://i.ytimg.com/vi/{YT_ID}/mqdefault.jpg"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def watch_button(page: str, name: str) -> str:
    """The <a class="video-load"> of the step called `name`."""
    for button in re.findall(r'<a class="video-load".*?</a>', page, re.S):
        if f"Watch: {name}<" in button:
            return button
    raise AssertionError(f"no Watch button for {name}")


def set_video(plan, name: str, url: str = "", upload: bool = False) -> PlanStep:
    step = PlanStep.objects.get(plan=plan, name=name)
    step.video_url = url
    if upload:
        step.video_file.save("clip.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64))
    step.save()
    return step


def test_a_youtube_link_has_the_providers_thumbnail_as_its_poster():
    assert videos.parse(f"https://youtu.be/{YT_ID}").poster == THUMBNAIL
    assert videos.parse(f"https://www.youtube.com/shorts/{YT_ID}").poster == THUMBNAIL


def test_vimeo_and_mp4_links_have_no_poster_address(settings):
    settings.VIDEO_MP4_HOSTS = ["cdn.practice.example"]
    assert videos.parse("https://vimeo.com/76979871").poster == ""
    assert videos.parse("https://cdn.practice.example/cat-camel.mp4").poster == ""


@pytest.mark.parametrize("page", ["client-today", "client-plan"])
def test_the_youtube_button_shows_its_thumbnail(phone, plan, page):
    set_video(plan, "Passive SI reset", f"https://youtu.be/{YT_ID}")
    button = watch_button(phone.get(reverse(page)).content.decode(), "Passive SI reset")
    image = re.search(r"<img [^>]*>", button).group(0)
    assert f'src="{THUMBNAIL}"' in image
    # Decorative (the button's name says what it plays), lazy, and it tells Google nothing
    # about the page it is on.
    assert 'alt=""' in image and 'loading="lazy"' in image
    assert 'referrerpolicy="no-referrer"' in image
    assert 'aria-hidden="true"' in button
    # The player is still only made on a tap: no iframe in the page.
    assert "<iframe" not in phone.get(reverse(page)).content.decode()


def test_on_the_whole_plan_an_upload_shows_its_own_first_frame_without_playing(phone, plan):
    step = set_video(plan, "Psoas release", upload=True)
    source = step.video.source
    button = watch_button(phone.get(reverse("client-plan")).content.decode(), "Psoas release")
    still = re.search(r"<video [^>]*>", button).group(0)
    # Only the metadata and the frame at 0.1 s: no autoplay, no controls, not in tab order.
    assert f'src="{source}#t=0.1"' in still
    assert 'preload="metadata"' in still and "muted" in still and "playsinline" in still
    assert "autoplay" not in still and "controls" not in still
    assert 'tabindex="-1"' in still
    # The tap plays the file from the start (no fragment in what client.js loads).
    assert f'data-src="{source}"' in button
    assert "<img" not in button


def test_a_vimeo_button_shows_a_plain_tile_and_loads_nothing(phone, plan):
    set_video(plan, "Lumbar decompression", "https://vimeo.com/76979871")
    button = watch_button(
        phone.get(reverse("client-plan")).content.decode(), "Lumbar decompression"
    )
    assert "video-poster-vimeo" in button
    assert "<img" not in button and "<video" not in button
    assert "Watch: Lumbar decompression" in button


def test_the_security_policy_allows_the_thumbnail_host_and_no_other(phone, plan):
    set_video(plan, "Passive SI reset", f"https://youtu.be/{YT_ID}")
    response = phone.get(reverse("client-today"))
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert set(policy["img-src"].split()) == {"'self'", "data:", "https://i.ytimg.com"}
    # The uploaded video's frame comes from our own server.
    assert "'self'" in policy["media-src"].split()


def test_today_shows_an_upload_as_a_plain_tile_and_loads_none_of_it(phone, plan):
    """A frame per step cost Today 15-20 Lighthouse performance points (a media pipeline
    and part of each file), and Today must stay light: the plain tile there."""
    set_video(plan, "Psoas release", upload=True)
    page = phone.get(reverse("client-today")).content.decode()
    button = watch_button(page, "Psoas release")
    assert "video-poster-mp4" in button
    assert "<video" not in page


def test_a_phone_saving_data_gets_the_plain_tile_on_the_whole_plan_too(phone, plan):
    set_video(plan, "Psoas release", upload=True)
    page = phone.get(reverse("client-plan"), HTTP_SAVE_DATA="on").content.decode()
    button = watch_button(page, "Psoas release")
    assert "<video" not in button and "video-poster-mp4" in button

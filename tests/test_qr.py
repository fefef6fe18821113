"""The printed plan's QR codes (issue 11): one per video, made on the server (segno, inline
SVG), opening the provider's public page for YouTube and Vimeo and the client's own plan
step for the practice's uploaded videos, never the bare file; only on paper.

A test can't scan the SVG without a decoder, so it compares it with segno's own drawing of
the address a person should land on: the path data is the encoded content."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import segno
from django.core.files.base import ContentFile
from django.urls import reverse

from aftercare import qr
from aftercare.models import PlanStep
from tests import factories

YOUTUBE = "https://youtu.be/dQw4w9WgXcQ"
YOUTUBE_PAGE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
VIMEO = "https://vimeo.com/76979871/a1b2c3d4e5"
SITE = "https://aftercare.practice.example"


@pytest.fixture(autouse=True)
def _site(settings, tmp_path):
    settings.SITE_URL = SITE
    settings.MEDIA_ROOT = tmp_path / "media"


def drawing(address: str) -> str:
    """The QR code's path for `address`, as segno draws it (independent of aftercare.qr)."""
    svg = segno.make(address, error="m").svg_inline(scale=1, omitsize=True)
    return re.search(r' d="([^"]+)"', svg).group(1)


def codes_on(page: str) -> list[str]:
    """The path data of every QR code on the page, in order."""
    figures = re.findall(r'<figure class="print-only qr-code">(.*?)</figure>', page, re.S)
    return [re.search(r' d="([^"]+)"', figure).group(1) for figure in figures]


def step(plan, name: str) -> PlanStep:
    return PlanStep.objects.get(plan=plan, name=name)


def give_videos(plan) -> dict[str, PlanStep]:
    """Passive SI reset on YouTube, Lumbar decompression on Vimeo, Psoas release uploaded,
    the QL stretch without a video (Heat has none either)."""
    si, lumbar, psoas = (
        step(plan, n) for n in ("Passive SI reset", "Lumbar decompression", "Psoas release")
    )
    si.video_url = YOUTUBE
    si.save()
    lumbar.video_url = VIMEO
    lumbar.save()
    psoas.video_url = ""
    psoas.video_file.save("clip.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64))
    PlanStep.objects.filter(plan=plan, name="QL and psoas stretch and strength").update(
        video_url="", video_file=""
    )
    return {"youtube": si, "vimeo": lumbar, "upload": psoas}


def test_each_video_prints_as_a_qr_code_of_where_a_phone_should_open_it(phone, plan):
    steps = give_videos(plan)
    page = phone.get(reverse("client-plan")).content.decode()
    upload_step = steps["upload"]
    expected = [
        YOUTUBE_PAGE,
        "https://vimeo.com/76979871/a1b2c3d4e5",
        f"{SITE}/c/plan/#plan-step-{upload_step.pk}",
    ]
    assert codes_on(page) == [drawing(address) for address in expected]
    # The caption says what to do with it, next to the code.
    assert "To watch the video for Psoas release, point your phone's camera" in page
    # The addresses themselves are no longer printed as text.
    assert "Video: http" not in page


def test_an_uploaded_video_prints_the_plan_step_never_the_bare_file(phone, plan):
    upload_step = give_videos(plan)["upload"]
    page = phone.get(reverse("client-plan")).content.decode()
    file_address = SITE + upload_step.video.source
    assert upload_step.video.source.startswith("/media/videos/")
    assert drawing(file_address) not in codes_on(page)
    assert qr.video_address(upload_step) == f"{SITE}/c/plan/#plan-step-{upload_step.pk}"


def test_no_other_clients_step_is_in_the_codes(phone, plan, practice, therapist):
    mine = give_videos(plan)
    other = factories.ClientFactory(practice=practice, primary_therapist=therapist)
    other_plan = factories.plan_for(other, therapist)
    theirs = give_videos(other_plan)
    page = phone.get(reverse("client-plan")).content.decode()
    codes = codes_on(page)
    assert drawing(qr.plan_step_url(mine["upload"])) in codes
    assert drawing(qr.plan_step_url(theirs["upload"])) not in codes
    assert f"plan-step-{theirs['upload'].pk}" not in page


def test_a_step_without_a_usable_video_prints_no_code(phone, plan):
    si = step(plan, "Passive SI reset")
    # A stored link that no longer parses (the page says the video is unavailable).
    PlanStep.objects.filter(pk=si.pk).update(video_url="https://example.com/clip.mov")
    PlanStep.objects.filter(plan=plan).exclude(pk=si.pk).update(video_url="", video_file="")
    page = phone.get(reverse("client-plan")).content.decode()
    assert codes_on(page) == []
    assert qr.video_address(PlanStep.objects.get(pk=si.pk)) == ""
    assert "This step's video is unavailable" in page


def test_the_code_is_print_only_and_escapes_the_step_name(phone, plan):
    si = step(plan, "Passive SI reset")
    si.video_url = YOUTUBE
    si.name = 'SI <b>reset</b> & "more"'
    si.save()
    page = phone.get(reverse("client-plan")).content.decode()
    figure = re.search(r'<figure class="print-only qr-code">.*?</figure>', page, re.S).group(0)
    assert "<title>QR code: the video for SI &lt;b&gt;reset&lt;/b&gt; &amp;" in figure
    assert "<b>" not in figure
    # Inline SVG: no image request for the content security policy to allow.
    assert "<svg" in figure and "<img" not in figure and 'style="' not in figure
    css = Path("static/css/app.css").read_text()
    assert ".print-only { display: none; }" in css
    assert re.search(r"@media print \{[^@]*\.qr-code\.print-only \{ display: flex;", css)

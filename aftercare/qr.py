"""QR codes for the printed plan: one per video, so a client holding the paper can open
the step's video on their phone by pointing the camera at it.

Made here, on the server, by segno as inline SVG: no image request, nothing for the
content security policy to allow, and sharp at any printer's resolution.

What a code opens is chosen so that paper never grants more than the app does:
- a YouTube or Vimeo video: the provider's public page (the same link emails carry);
- the practice's own uploaded video (or an MP4 on a listed host): the client's own plan
  page at that step, which plays it after the usual sign-in (a phone that is not signed
  in is offered a new link by email), never the bare file's address.
"""

from __future__ import annotations

import segno
from django.conf import settings
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

# M corrects about 15% damage: a creased or coffee-stained sheet still scans.
ERROR_LEVEL = "m"


def plan_step_url(step) -> str:
    """The client's whole-plan page, scrolled to this step (the same for every client:
    whose plan it shows is decided by the phone's sign-in, not by the address)."""
    return settings.SITE_URL.rstrip("/") + reverse("client-plan") + f"#plan-step-{step.pk}"


def video_address(step) -> str:
    """What the printed code for this step's video opens; "" when the step has no video
    that can be shown (a bad stored link prints no code either)."""
    video = step.video
    if video is None:
        return ""
    if video.kind in ("youtube", "vimeo"):
        return video.link
    return plan_step_url(step)


def svg(address: str, title: str) -> SafeString:
    """The QR code of `address` as an inline <svg> sized by CSS (it has a viewBox and no
    width or height); `title` is read out by screen readers and escaped by segno."""
    code = segno.make(address, error=ERROR_LEVEL)
    # segno writes only its own markup and XML-escapes the title.
    return mark_safe(code.svg_inline(scale=1, omitsize=True, title=title, svgclass="qr"))  # noqa: S308

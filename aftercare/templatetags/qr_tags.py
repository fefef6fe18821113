"""`{% video_qr step %}`: the printed plan's QR code for a step's video (aftercare.qr)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from aftercare import qr

register = template.Library()


@register.simple_tag
def video_qr(step) -> SafeString | str:
    address = qr.video_address(step)
    if not address:
        return ""
    return qr.svg(address, f"QR code: the video for {step.name}")

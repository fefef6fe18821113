"""`{% submission_key %}`: the hidden field that makes a creating form submit once
(aftercare/submissions.py). A fresh key each time the form is rendered."""

import uuid

from django import template
from django.utils.html import format_html

from aftercare.submissions import FIELD

register = template.Library()


@register.simple_tag
def submission_key() -> str:
    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, uuid.uuid4())

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class NoStoreForPeopleMiddleware:
    """Pages seen by a logged-in therapist or client carry health details: no browser,
    proxy or shared phone may keep a copy of them. A view that marks its response public
    itself (practice content such as the exercise videos, views/media.py) keeps that."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        directives = response.get("Cache-Control", "").replace(" ", "").split(",")
        if "public" in directives:
            return response
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response

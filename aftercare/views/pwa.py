"""The installable app (docs/offline.md): the web app manifest, the service worker, the
offline page and the home-screen start page."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_cache_control

from aftercare.forms import NewLinkForm
from aftercare.offline import CLIENT_SCOPE, logged_in_client
from aftercare.rules import safety

THEME_COLOUR = "#2f6b4f"  # --green in static/css/app.css
BACKGROUND_COLOUR = "#f6f3ee"  # --paper


def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest, named after the client's practice (fetched with the
    client's cookies: <link rel=manifest crossorigin=use-credentials>)."""
    client = logged_in_client(request)
    name = client.practice.name if client else "Aftercare"
    body = {
        "name": name,
        "short_name": name if len(name) <= 12 else "Aftercare",
        "description": "Your aftercare plan between massages: today's steps, check-ins, reminders.",
        "id": reverse("client-start"),
        "start_url": reverse("client-start"),
        "scope": CLIENT_SCOPE,
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "lang": "en",
        "icons": [
            {"src": static("pwa/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("pwa/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("pwa/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    response = JsonResponse(body, content_type="application/manifest+json")
    patch_cache_control(response, private=True, no_cache=True)
    return response


def service_worker(request: HttpRequest) -> HttpResponse:
    """/sw.js: served from the root, controlling only the client's pages (/c/). Always
    revalidated, so a deploy reaches phones on their next visit."""
    config = {
        "scope": CLIENT_SCOPE,
        "offlineUrl": reverse("client-offline"),
        "todayUrl": reverse("client-today"),
        "startUrl": reverse("client-start"),
        "logoutUrl": reverse("client-forget"),
        # Form posts that are kept on the phone when there is no signal.
        "queueUrls": [reverse("client-step-done"), reverse("client-checkin")],
        # Pages that open offline (the start page opens Today).
        "keptUrls": [
            reverse("client-today"),
            reverse("client-plan"),
            reverse("client-warning-signs"),
            reverse("client-checkin"),
            reverse("client-offline"),
        ],
        "checkinUrl": reverse("client-checkin"),
        "shell": [
            static("css/app.css"),
            static("css/checkin.css"),
            static("js/client.js"),
            static("js/offline.js"),
            static("js/install-hint.js"),
            static("pwa/icon-192.png"),
        ],
    }
    body = render_to_string("pwa/sw.js", {"config": json.dumps(config, indent=2)})
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = CLIENT_SCOPE
    patch_cache_control(response, no_cache=True, max_age=0)
    return response


def offline_page(request: HttpRequest) -> HttpResponse:
    """What the phone shows with no signal: a page it has not kept, or a tick or
    check-in kept on the phone (offline.js picks the message from the address)."""
    client = logged_in_client(request)
    request.client = client
    practice = client.practice if client else None
    return render(
        request,
        "client/offline.html",
        {
            "client": client,
            "practice": practice,
            "emergency_keys": ",".join(sorted(safety.EMERGENCY_KEYS)),
        },
    )


def start(request: HttpRequest) -> HttpResponse:
    """The home-screen icon opens here: Today when this phone is logged in, otherwise a
    page that asks the client to open the link in their latest email."""
    if logged_in_client(request) is not None:
        return redirect("client-today")
    return render(request, "client/start.html", {"form": NewLinkForm()})

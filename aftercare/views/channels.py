"""How reminders reach the client besides email: the choice on Settings, the phone's
notification subscription (JSON, for the logged-in client only), a test notification,
and the STOP / START replies to texts (Twilio's webhook)."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from aftercare import push
from aftercare.channel_forms import ReminderChannelForm, save_reminder_channel
from aftercare.models import PushSubscription
from aftercare.views.access import client_required
from aftercare.views.client import settings_page
from clients import throttle
from clients.models import Channel, Client, Practice

log = logging.getLogger(__name__)


@require_POST
@client_required
def reminder_channel(request: HttpRequest) -> HttpResponse:
    """The "How should we remind you?" part of Settings (its own form and button)."""
    client: Client = request.client
    form = ReminderChannelForm(request.POST, client=client)
    if not form.is_valid():
        # The whole Settings page again, with this form's errors next to its fields.
        return settings_page(request, channel_form=form)
    data = form.cleaned_data
    save_reminder_channel(
        client=client,
        channel=data["reminder_channel"],
        number=data["sms_number"],
        consent=data["sms_consent"],
    )
    said = {
        Channel.EMAIL: "We'll remind you by email.",
        Channel.PUSH: "We'll remind you with a notification; by email if it can't reach you.",
        Channel.SMS: "We'll remind you by text; by email if a text can't go.",
    }
    messages.success(request, f"Saved. {said[data['reminder_channel']]}")
    return redirect("client-settings")


# --- notifications (web push) -----------------------------------------------------------


def _json_body(request: HttpRequest) -> dict | None:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _bad(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message}, status=status)


BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def _valid_subscription(data: dict) -> tuple[str, str, str] | None:
    """(endpoint, p256dh, auth) when they look like a browser's PushSubscription.toJSON()."""
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or not isinstance(keys, dict):
        return None
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not (endpoint.startswith("https://") and 12 < len(endpoint) <= 1000):
        return None
    if not _public_push_host(endpoint):
        return None
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        return None
    # Only base64url's own characters: base64 skips any other, so a key padded with them
    # would decode to the right length and still be too long to store.
    if not (BASE64URL.fullmatch(p256dh) and BASE64URL.fullmatch(auth)):
        return None
    try:
        point, secret = push.b64url_decode(p256dh), push.b64url_decode(auth)
    except ValueError:
        return None
    # An uncompressed P-256 point (65 bytes, 0x04 first) and a 16-byte auth secret.
    if len(point) != 65 or point[0] != 4 or len(secret) != 16:
        return None
    return endpoint, p256dh, auth


def _public_push_host(endpoint: str) -> bool:
    """A browser's push service is a public https name on the usual port. Our server
    POSTs to the endpoint on every reminder, so an address inside our network (this
    machine, the cloud's metadata service, a private range) or an odd port is refused.
    The name is checked again before every send (push.send): it may change its answer."""
    try:
        parts = urlsplit(endpoint)
        host, port = (parts.hostname or "").rstrip("."), parts.port
    except ValueError:
        return False
    if parts.username is not None or port not in (None, 443) or "." not in host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return False  # push services are named, never a bare address
    top = host.rsplit(".", 1)[-1]
    if not (top.isalpha() or top.startswith("xn--")):
        return False  # 127.1, 0x7f.0x0.0x0.0x1: other spellings of an address
    if host.endswith((".localhost", ".local", ".internal", ".lan", ".home.arpa")):
        return False
    return not push.resolves_inside(host)


MAX_PHONES = 5


@require_POST
@client_required
def push_subscribe(request: HttpRequest) -> JsonResponse:
    """This phone said yes to notifications: keep its subscription, and remind by them.
    An endpoint belongs to one browser: if another client used this phone before, it is
    theirs no more (the phone now shows this client's reminders)."""
    data = _json_body(request)
    found = _valid_subscription(data) if data is not None else None
    if found is None:
        return _bad("That is not a notification subscription we can use.")
    endpoint, p256dh, auth = found
    client: Client = request.client
    with transaction.atomic():
        PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={
                "client": client,
                "p256dh": p256dh,
                "auth": auth,
                "session_key": request.session.session_key or "",
                "user_agent": request.headers.get("User-Agent", "")[:200],
            },
        )
        # A reminder is one request per phone, in the batch every client shares: the
        # newest few phones are kept, the oldest go.
        older = client.push_subscriptions.order_by("-id").values_list("id", flat=True)
        PushSubscription.objects.filter(id__in=list(older[MAX_PHONES:])).delete()
        if client.reminder_channel != Channel.PUSH:
            client.reminder_channel = Channel.PUSH
            client.save(update_fields=["reminder_channel", "updated_at"])
    return JsonResponse({"ok": True, "channel": Channel.PUSH})


@require_POST
@client_required
def push_unsubscribe(request: HttpRequest) -> JsonResponse:
    """This phone turned notifications off. Only the client's own subscription goes; with
    none left, reminders come by email again."""
    data = _json_body(request)
    endpoint = data.get("endpoint") if data else None
    if not isinstance(endpoint, str):
        return _bad("Which phone? The request named none.")
    client: Client = request.client
    with transaction.atomic():
        deleted, _ = PushSubscription.objects.filter(client=client, endpoint=endpoint).delete()
        left = client.push_subscriptions.exists()
        if not left and client.reminder_channel == Channel.PUSH:
            client.reminder_channel = Channel.EMAIL
            client.save(update_fields=["reminder_channel", "updated_at"])
    return JsonResponse({"ok": True, "removed": deleted, "channel": client.reminder_channel})


TEST_PUSH_PER_HOUR = 10


@require_POST
@client_required
def push_test(request: HttpRequest) -> JsonResponse:
    """A test notification to this client's phones, now (the client asked and waits for
    it; a reminder itself always goes through the outbox)."""
    client: Client = request.client
    if not throttle.hit("push-test", str(client.id), limit=TEST_PUSH_PER_HOUR, window=3600):
        return _bad("That's enough tests for now. Try again in an hour.", status=429)
    subscriptions = list(client.push_subscriptions.all())
    if not subscriptions:
        return _bad("Notifications aren't on for any of your phones yet.", status=409)
    from aftercare.outbox import emails

    payload = {
        "title": client.practice.name,
        "body": "This is how your reminders will look.",
        "url": emails.absolute("/c/"),
        "slot": "test",
        "kind": "test",
        "tag": "aftercare-test",
    }
    delivered = 0
    for subscription in subscriptions:
        try:
            push.send(subscription, payload, ttl=600)
        except push.PushError as error:
            log.info("Test push to subscription %s failed: %s", subscription.id, error)
            if error.gone:
                subscription.delete()
            continue
        delivered += 1
        PushSubscription.objects.filter(id=subscription.id).update(last_success_at=timezone.now())
    if not delivered:
        return _bad("We couldn't reach your phone. Turn notifications off and on again.", 502)
    return JsonResponse({"ok": True, "delivered": delivered})


# --- texts: STOP and START (Twilio's webhook) ------------------------------------------

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "YES", "UNSTOP"}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def keyword(body: str) -> str:
    """ "STOP", "START" or "" for a reply's text (carriers match the whole message, any case)."""
    word = body.strip().strip(".!").upper()
    if word in STOP_WORDS:
        return "STOP"
    if word in START_WORDS:
        return "START"
    return ""


@csrf_exempt
@require_POST
def sms_webhook(request: HttpRequest) -> HttpResponse:
    """Twilio posts every reply here. Only a request signed with our auth token counts:
    anything else is 403 and changes nothing. The URL signed is the one Twilio called,
    SITE_URL + this path (the proxy in front may have changed host and scheme)."""
    from twilio.request_validator import RequestValidator

    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    url = settings.SITE_URL + request.get_full_path()
    params = {key: request.POST.get(key) for key in request.POST}
    if not token or not signature or not RequestValidator(token).validate(url, params, signature):
        log.warning("SMS webhook: a request without a valid Twilio signature was refused")
        return HttpResponse("Forbidden", status=403, content_type="text/plain")
    word = keyword(request.POST.get("Body", ""))
    if word:
        sms_replied(number=request.POST.get("From", ""), to=request.POST.get("To", ""), word=word)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


def sms_replied(*, number: str, to: str, word: str) -> int:
    """STOP ends texts to that number, START allows them again (a client who never agreed
    to texts is not signed up by START). The practice is the one the text came from;
    when no practice sends from `to` (a shared sender), every client with the number."""
    from aftercare.outbox.channels import sms_sender

    clients = list(Client.objects.select_related("practice").filter(sms_number=number))
    from_practice = [client for client in clients if sms_sender(client) == to]
    # A reply to a number we know (a practice's, or the shared SMS_FROM) is about that
    # sender's texts only, even when none of its clients has this number.
    known = to == settings.SMS_FROM or Practice.objects.filter(sms_sender=to).exists()
    chosen = from_practice if (from_practice or known) else clients
    ids = [client.id for client in chosen]
    if word == "STOP":
        changed = Client.objects.filter(id__in=ids, sms_stopped_at=None).update(
            sms_stopped_at=timezone.now()
        )
    else:
        changed = (
            Client.objects.filter(id__in=ids)
            .exclude(sms_stopped_at=None)
            .update(sms_stopped_at=None)
        )
    log.info("SMS %s from a client number: %s client(s) changed", word, changed)
    return changed

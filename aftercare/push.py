"""Web push (RFC 8030) with VAPID (RFC 8292) and an encrypted payload (RFC 8291), via
pywebpush. The payload is JSON {title, body, url, ...}: the service worker shows it as a
notification and opens `url` on a tap.

Keys: VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY / VAPID_SUBJECT from the environment; without
them one pair is generated once and kept in VAR_DIR/vapid.json, so an embedded install
works out of the box and keeps its subscriptions across restarts.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

log = logging.getLogger(__name__)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class VapidKeys:
    public: str  # the uncompressed P-256 point, base64url: the browser's applicationServerKey
    private: str  # the 32-byte private number, base64url
    subject: str  # mailto: or https: contact for the push services


def generate_pair() -> tuple[str, str]:
    """(public, private), base64url, as the browser and pywebpush take them."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(public), b64url(private)


def keys() -> VapidKeys:
    subject = settings.VAPID_SUBJECT or f"mailto:{_admin_address()}"
    if settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY:
        return VapidKeys(settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY, subject)
    public, private = _stored_pair(str(Path(settings.VAR_DIR) / "vapid.json"))
    return VapidKeys(public, private, subject)


def _admin_address() -> str:
    address = settings.DEFAULT_FROM_EMAIL
    return address.rpartition("<")[2].rstrip(">") if "<" in address else address


@lru_cache(maxsize=4)
def _stored_pair(path: str) -> tuple[str, str]:
    """Read the pair kept in VAR_DIR, or make one and keep it (readable by us only).
    Two processes starting at once: the first file written wins, the other reads it."""
    file = Path(path)
    if not file.exists():
        public, private = generate_pair()
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as out:
                json.dump({"public_key": public, "private_key": private}, out)
    stored = json.loads(file.read_text())
    return stored["public_key"], stored["private_key"]


class PushError(Exception):
    def __init__(self, message: str, *, transient: bool, gone: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.gone = gone  # 404/410: the push service forgot this subscription


# Hosts allowed to resolve inside our network. Empty in the app: only tests fill it, with
# their local push-service stand-in on 127.0.0.1 (tests/test_push.py, tests/standin_worker.py).
STANDIN_HOSTS: frozenset[str] = frozenset()


def resolves_inside(host: str) -> bool:
    """Whether the name points at a private, loopback or link-local address now. A name
    that does not resolve here passes: the push service's own trouble, met at send time."""
    if host in STANDIN_HOSTS:
        return False
    try:
        found = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        if not ip.is_global:
            return True
    return False


def _points_inside(endpoint: str) -> bool:
    """Checked again before every send: a name that was public when the phone subscribed
    may point inside our network now (DNS rebinding), and we would POST there."""
    try:
        host = (urlsplit(endpoint).hostname or "").rstrip(".")
    except ValueError:
        return False  # not an address at all: pywebpush refuses it below
    return bool(host) and resolves_inside(host)


def send(subscription, payload: dict, *, ttl: int = 6 * 3600) -> None:
    """Push one JSON payload to one subscription (a PushSubscription or alike). Raises
    PushError: `gone` for 404/410, `transient` for 429, 5xx and network trouble."""
    import requests
    from py_vapid import VapidException
    from pywebpush import WebPushException, webpush

    if _points_inside(subscription.endpoint):
        raise PushError(
            "the push service's address points inside our network now; not sent",
            transient=False,
        )
    try:
        vapid = keys()
    except (ValueError, KeyError, OSError) as error:  # a damaged VAR_DIR/vapid.json
        log.exception("The VAPID key pair can't be read")
        raise PushError(f"our notification keys can't be read: {error}", transient=False) from error
    try:
        webpush(
            subscription_info={
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            data=json.dumps(payload),
            vapid_private_key=vapid.private,
            vapid_claims={"sub": vapid.subject},  # a fresh dict: pywebpush fills aud and exp
            content_encoding="aes128gcm",
            ttl=ttl,
            timeout=settings.PUSH_TIMEOUT_SECONDS,
        )
    except WebPushException as error:
        if error.response is None:  # refused before sending: the stored keys are bad
            raise PushError(
                f"the subscription's keys are not usable: {error}", transient=False
            ) from error
        status = error.response.status_code
        if status in (404, 410):
            raise PushError(
                f"{status}: the phone turned them off", transient=False, gone=True
            ) from error
        if status == 429 or status >= 500:
            raise PushError(f"the push service said {status}", transient=True) from error
        raise PushError(f"the push service refused it ({status})", transient=False) from error
    except (VapidException, requests.exceptions.InvalidURL) as error:
        # An address no push service has (a corrupt row): no later try can work.
        raise PushError(
            f"the subscription's address is not usable: {error}", transient=False
        ) from error
    except (requests.RequestException, OSError) as error:
        raise PushError(f"could not reach the push service: {error}", transient=True) from error
    except (ValueError, IndexError, TypeError) as error:  # keys that do not decode
        raise PushError(
            f"the subscription's keys are not usable: {error}", transient=False
        ) from error


def forget_this_phone(request) -> None:
    """On logout: this phone's subscriptions go (found by the login session they were made
    in, or by the endpoint the page sends along)."""
    client = getattr(request.user, "client", None) if request.user.is_authenticated else None
    if client is None:
        return
    session_key = request.session.session_key
    endpoint = request.POST.get("push_endpoint", "")
    from aftercare.models import PushSubscription

    mine = PushSubscription.objects.filter(client=client)
    if session_key:
        mine.filter(session_key=session_key).delete()
    if endpoint:
        mine.filter(endpoint=endpoint).delete()

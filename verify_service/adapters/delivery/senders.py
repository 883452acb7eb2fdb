"""Senders: each hands one message to a gateway and raises DeliveryFailed unless it was accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TextIO

from verify_service.errors import DeliveryFailed

log = logging.getLogger(__name__)


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A gateway's 3xx is a failed attempt: following it would send the message and credentials elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        """Never build the follow-up request (the 3xx then surfaces as an HTTPError)."""
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST and return the status; DeliveryFailed on network errors, redirects and non-2xx answers."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        raise DeliveryFailed(f"gateway answered HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DeliveryFailed(f"gateway unreachable: {type(reason).__name__}") from None
    except (http.client.HTTPException, ValueError) as error:
        raise DeliveryFailed(f"gateway answered garbage: {type(error).__name__}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"gateway answered HTTP {status}")
    return status


class ConsoleSender:
    """Development only: prints the message to stdout (not the log) so a newcomer can read the code."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream

    def send(self, message_id: str, payload: dict[str, Any]) -> None:
        """Print it."""
        stream = self._stream or sys.stdout
        stream.write(f"\n=== console SMS {message_id} to {payload['to']} ({payload['locale']}) ===\n"
                     f"{payload['text']}\n=== end ===\n")
        stream.flush()
        log.info("message %s printed to the console", message_id)


class WebhookSender:
    """The contract's signed JSON POST (SMS gateway webhook or security events webhook)."""

    def __init__(self, url: str, secret: str | None, *, timeout: float):
        self._url, self._secret, self._timeout = url, secret or "", timeout

    def send(self, message_id: str, payload: dict[str, Any]) -> None:
        """POST {"message_id", ...payload} signed with X-Verify-Signature."""
        body = json.dumps(self.body(message_id, payload), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-Verify-Signature": signature(self._secret, body),
                   "User-Agent": "verify-service"}
        post(self._url, body, headers, self._timeout)

    @staticmethod
    def body(message_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """SMS: message_id, channel, to, text, locale. Events are sent as they are."""
        if "event_id" in payload:
            return payload
        return {"message_id": message_id, **payload}


class TwilioSender:
    """Twilio's Messages API: form-encoded To, From, Body with HTTP Basic auth (AccountSid:AuthToken)."""

    def __init__(self, *, account_sid: str, auth_token: str, sender: str, base_url: str, timeout: float):
        self._sid, self._token, self._from = account_sid, auth_token, sender
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{urllib.parse.quote(account_sid)}/Messages.json"
        self._timeout = timeout

    def send(self, message_id: str, payload: dict[str, Any]) -> None:
        """Create one message; Twilio answers 201 when it accepted it."""
        sender_field = "MessagingServiceSid" if self._from.startswith("MG") else "From"
        body = urllib.parse.urlencode({"To": payload["to"], sender_field: self._from, "Body": payload["text"]})
        credentials = base64.b64encode(f"{self._sid}:{self._token}".encode()).decode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {credentials}",
                   "Accept": "application/json", "User-Agent": "verify-service"}
        post(self._url, body.encode(), headers, self._timeout)

"""Signing links and the page's anti-forgery tokens, both made with SIGNATURE_LINK_SECRET.

A link is `{PUBLIC_URL}/sign/<token>`, the token being the request's nonce signed with itsdangerous (a
well-kept library for exactly this: URL-safe, HMAC-SHA1 by default, constant-time checks, a salt per use).
It carries no time of its own: the request row's `expires_at`, read with the bot's clock, is the one
expiry, and its `used_at` makes it single use. A token changed by one character fails the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeSerializer

_LINK_SALT = "service-orders.signature-link"
_FORM_SALT = b"service-orders.signature-form:"


class Links:
    def __init__(self, public_url: str, secret: str) -> None:
        self.public_url = public_url.rstrip("/")
        self._secret = secret.encode()
        self._serializer = URLSafeSerializer(secret, salt=_LINK_SALT)

    def token(self, nonce: str) -> str:
        return str(self._serializer.dumps(nonce))

    def link(self, nonce: str) -> str:
        return f"{self.public_url}/sign/{self.token(nonce)}"

    def nonce(self, token: str) -> str | None:
        """The nonce a token carries; None when it is not one we signed (tampered, truncated, another secret)."""
        try:
            nonce = self._serializer.loads(token)
        except BadSignature:
            return None
        return nonce if isinstance(nonce, str) else None

    # --- the form's anti-forgery token: double submit, bound to the link ------------------------------

    def new_form_token(self, nonce: str) -> tuple[str, str]:
        """(cookie value, hidden field value): the field is the cookie's random value and its HMAC with the
        link's nonce, so a field from another link's page, or made up, does not pass."""
        value = secrets.token_urlsafe(24)
        return value, f"{value}.{self._mac(nonce, value)}"

    def form_token_ok(self, nonce: str, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field:
            return False
        value, _, mac = field.partition(".")
        # compared as bytes: compare_digest refuses non-ASCII text (a forged field's é) with a TypeError
        return (hmac.compare_digest(value.encode(), cookie.encode())
                and hmac.compare_digest(mac.encode(), self._mac(nonce, value).encode()))

    def _mac(self, nonce: str, value: str) -> str:
        return hmac.new(self._secret, _FORM_SALT + f"{nonce}:{value}".encode(), hashlib.sha256).hexdigest()

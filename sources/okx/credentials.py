"""The three OKX API secrets as one value that never shows them.

``OkxCredentials`` is what every other module passes around. Its ``repr``/``str`` show at
most the last four characters of the API key, so a credential object that ends up in a
log line, a traceback or a dlt trace leaks nothing usable.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

__all__ = ["OkxCredentials"]

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX_UPPER = frozenset(string.digits + "ABCDEF")
_HEX_ANY = frozenset(string.hexdigits)
SECRET_LENGTH = 32
KEY_LENGTH = 36


@dataclass(frozen=True)
class OkxCredentials:
    """An OKX v5 API key, its secret key and the passphrase chosen when it was created.

    OKX shows the secret only once, at key creation, and stores only a salted hash of
    the passphrase: neither can be recovered, only replaced by creating a new key.

    Attributes:
        api_key: The key (UUID-shaped, 36 characters), sent as ``OK-ACCESS-KEY``.
        secret: The secret key (32 uppercase hex characters), used only as HMAC key.
        passphrase: Sent as ``OK-ACCESS-PASSPHRASE``; not the account login password.
    """

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)

    @property
    def key_hint(self) -> str:
        """The last four characters of the API key, enough to tell keys apart."""
        if len(self.api_key) <= 8:
            return "…"
        return "…" + self.api_key[-4:]

    def __repr__(self) -> str:
        return f"OkxCredentials(api_key='{self.key_hint}', secret=<hidden>, passphrase=<hidden>)"

    __str__ = __repr__

    def shape_problems(self) -> list[str]:
        """Lists what looks wrong with the values before OKX is asked.

        The checks are heuristics about how OKX issues keys (a UUID key, a 32-character
        uppercase hex secret, a non-empty passphrase); they catch copy-and-paste
        accidents such as a truncated secret. The sentences never quote the secret or
        the passphrase.

        Returns:
            One sentence per problem, in the trader's words; empty when all looks fine.
        """
        problems: list[str] = []
        problems.extend(self._key_problems())
        problems.extend(self._secret_problems())
        problems.extend(self._passphrase_problems())
        return problems

    def _key_problems(self) -> list[str]:
        key = self.api_key
        if not key.strip():
            return ["The API key is empty: copy it from okx.com → Profile → API."]
        if key != key.strip():
            return ["The API key has spaces or line breaks around it: copy it again without them."]
        if _UUID_RE.match(key):
            return []
        if len(key) < KEY_LENGTH:
            return [
                f"The API key is {len(key)} characters long but OKX keys have {KEY_LENGTH} "
                "(like 1a2b3c4d-0000-4000-8000-123456789abc): it looks truncated, copy it again."
            ]
        return [
            "The API key does not look like an OKX key (36 characters like "
            "1a2b3c4d-0000-4000-8000-123456789abc): check that you copied the key, "
            "not the secret or the passphrase."
        ]

    def _secret_problems(self) -> list[str]:
        secret = self.secret
        if not secret.strip():
            return [
                "The secret key is empty: OKX shows it only once when the key is created; "
                "if you no longer have it, create a new read-only key."
            ]
        if secret != secret.strip():
            return ["The secret key has spaces or line breaks around it: copy it again without them."]
        if len(secret) < SECRET_LENGTH:
            return [
                f"The secret key is {len(secret)} characters long but OKX secrets have "
                f"{SECRET_LENGTH}: it looks truncated. Copy it again, or create a new key "
                "if you no longer have it (OKX shows it only once)."
            ]
        if len(secret) > SECRET_LENGTH:
            return [
                f"The secret key is {len(secret)} characters long but OKX secrets have "
                f"{SECRET_LENGTH}: check that nothing else was pasted with it."
            ]
        chars = set(secret)
        if chars <= _HEX_UPPER:
            return []
        if chars <= _HEX_ANY:
            return [
                "The secret key has lowercase letters but OKX secrets are uppercase "
                "(0-9, A-F) and are used exactly as shown: copy it again unchanged."
            ]
        return [
            "The secret key has characters other than 0-9 and A-F, unlike OKX secrets: "
            "check that you copied the secret, not the key or the passphrase."
        ]

    def _passphrase_problems(self) -> list[str]:
        if not self.passphrase:
            return [
                "The passphrase is empty: it is the one you chose when you created the API "
                "key (not your OKX login password)."
            ]
        if self.passphrase != self.passphrase.strip():
            return [
                "The passphrase starts or ends with spaces: if that was not intended, "
                "enter it again without them."
            ]
        return []

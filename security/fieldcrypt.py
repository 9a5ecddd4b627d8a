"""Encryption at rest of sensitive (要配慮) fields: AES-256-GCM under keys from the environment.

A stored value is ``enc1:<key id>:<base64url(nonce || ciphertext || tag)>``. The first key of
``FIELD_ENCRYPTION_KEYS`` encrypts; every key listed decrypts, found by the id in the value, so
keys rotate by putting a new key first, running ``manage.py rotate_field_keys`` and then
dropping the old one. The column (``table.column``) is bound in as associated data, so a value
copied into another column does not decrypt. A value whose key is not configured, or whose tag
does not verify, raises ``FieldDecryptionError``: never a silent empty value, and the message
names the column and key id only, never the content.

What this protects: a leaked database dump or backup (the keys are not in it). What it does
not: a compromised application server, which holds the keys and sees plain text.

``EncryptedTextField``, ``EncryptedCharField`` and ``EncryptedJSONField`` are plain Django
fields; only "is it empty" can be asked of them in a query (a random nonce makes equal
plain texts differ), and any other lookup fails loudly.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.db.models import lookups

PREFIX = "enc1"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NONCE_BYTES = 12


class FieldDecryptionError(Exception):
    """A stored value could not be decrypted (unknown key id, wrong key, altered value)."""


@dataclass(frozen=True)
class FieldKey:
    """One configured key: its id (written into every value it encrypts) and the cipher."""

    key_id: str
    cipher: AESGCM


def parse_keys(spec: str | Sequence[str]) -> tuple[FieldKey, ...]:
    """``"id:base64key,id2:base64key"`` (or a list of ``id:base64key``) -> keys, first first.

    Each key is 32 random bytes in base64 (``manage.py rotate_field_keys --new-key`` prints
    one). Malformed entries raise ImproperlyConfigured naming the entry's position only.
    """
    entries = [e.strip() for e in (spec.split(",") if isinstance(spec, str) else spec)]
    keys: list[FieldKey] = []
    seen: set[str] = set()
    for position, entry in enumerate(e for e in entries if e):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS entry {position + 1}: expected '<id>:<base64 key>'"
            )
        try:
            raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_")
        except (binascii.Error, ValueError) as exc:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS entry {position + 1} ({key_id}): not base64"
            ) from exc
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS entry {position + 1} ({key_id}): "
                "the key must be 32 bytes (AES-256)"
            )
        if key_id in seen:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: key id {key_id!r} twice")
        seen.add(key_id)
        keys.append(FieldKey(key_id=key_id, cipher=AESGCM(raw)))
    return tuple(keys)


def new_key_spec(key_id: str) -> str:
    """A fresh ``id:base64key`` entry for FIELD_ENCRYPTION_KEYS."""
    if not _KEY_ID.match(key_id):
        raise ValueError("key id: letters, digits, '-' and '_' only, at most 32")
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode('ascii')}"


@lru_cache(maxsize=8)
def _keyring_for(spec: tuple[str, ...]) -> tuple[FieldKey, ...]:
    return parse_keys(list(spec))


def keyring() -> tuple[FieldKey, ...]:
    """The configured keys (settings.FIELD_ENCRYPTION_KEYS), first is the encrypting one."""
    spec = getattr(settings, "FIELD_ENCRYPTION_KEYS", ())
    spec_tuple = tuple(spec.split(",")) if isinstance(spec, str) else tuple(spec)
    keys = _keyring_for(spec_tuple)
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set: sensitive sections cannot be stored or read."
        )
    return keys


def key_id_of(token: str) -> str | None:
    """The id of the key a stored value was encrypted with (None for an empty value)."""
    if not token:
        return None
    prefix, _sep, rest = token.partition(":")
    if prefix != PREFIX:
        raise FieldDecryptionError("value is not an encrypted field value")
    return rest.partition(":")[0]


def encrypt_str(plaintext: str, *, context: str) -> str:
    """Encrypt under the first key; ``context`` (the column) is authenticated, not stored."""
    key = keyring()[0]
    nonce = os.urandom(_NONCE_BYTES)
    sealed = key.cipher.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
    body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
    return f"{PREFIX}:{key.key_id}:{body}"


def decrypt_str(token: str, *, context: str) -> str:
    """Decrypt a stored value, or raise FieldDecryptionError (never returns a guess)."""
    prefix, _sep, rest = token.partition(":")
    key_id, _sep, body = rest.partition(":")
    if prefix != PREFIX or not key_id or not body:
        raise FieldDecryptionError(f"{context}: the stored value is not encrypted")
    keys = {k.key_id: k for k in keyring()}
    key = keys.get(key_id)
    if key is None:
        raise FieldDecryptionError(
            f"{context}: encrypted under key {key_id!r}, which FIELD_ENCRYPTION_KEYS lacks"
        )
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        plain = key.cipher.decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")
        )
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise FieldDecryptionError(
            f"{context}: the value does not decrypt under key {key_id!r} "
            "(wrong key, or the value was altered)"
        ) from exc
    return plain.decode("utf-8")


class _EmptyOnlyExact(lookups.Exact):
    """``field=""`` / ``field=None`` only: equal plain texts never have equal ciphertexts."""

    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None):
            raise FieldError(
                f"{self.lhs.output_field.name} is encrypted: it can only be compared with ''"
            )
        return super().get_prep_lookup()


class EncryptedMixin:
    """Encrypts in get_prep_value, decrypts in from_db_value; the column is always text."""

    _allowed_lookups = {"isnull": lookups.IsNull, "exact": _EmptyOnlyExact}
    model: Any
    column: Any

    def crypto_context(self) -> str:
        return f"{self.model._meta.db_table}.{self.column}"

    def get_internal_type(self) -> str:
        # Stored as text whatever the Python type (ciphertext is longer than the plain text);
        # max_length still validates the plain text (CharField's validator, forms).
        return "TextField"

    def db_check(self, connection: Any) -> None:
        return None

    def get_lookup(self, lookup_name: str) -> Any:
        return self._allowed_lookups.get(lookup_name)

    def get_transform(self, lookup_name: str) -> Any:
        return None

    def _to_plain(self, value: Any) -> str | None:
        return None if value is None else str(value)

    def _from_plain(self, value: str) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        plain = self._to_plain(value)
        if plain is None or plain == "":
            return plain
        return encrypt_str(plain, context=self.crypto_context())

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return self._from_plain(decrypt_str(value, context=self.crypto_context()))

    def to_python(self, value: Any) -> Any:
        return value


class EncryptedTextField(EncryptedMixin, models.TextField):
    """A TextField stored encrypted (AES-GCM); empty stays empty."""

    def get_prep_value(self, value: Any) -> Any:
        return EncryptedMixin.get_prep_value(self, value)


class EncryptedCharField(EncryptedMixin, models.CharField):
    """A CharField (choices and max_length apply to the plain text) stored encrypted."""

    def get_prep_value(self, value: Any) -> Any:
        return EncryptedMixin.get_prep_value(self, value)


if TYPE_CHECKING:
    _AnyField = models.Field[Any, Any]
else:
    _AnyField = models.Field


class EncryptedJSONField(EncryptedMixin, _AnyField):
    """A JSON value (a snapshot of sections) stored as one encrypted text."""

    def _to_plain(self, value: Any) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def _from_plain(self, value: str) -> Any:
        return json.loads(value) if value else value

    def get_prep_value(self, value: Any) -> Any:
        return EncryptedMixin.get_prep_value(self, value)

    def value_to_string(self, obj: Any) -> str:
        return json.dumps(self.value_from_object(obj), ensure_ascii=False)


def encrypted_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The encrypted concrete fields of a model (for rotate_field_keys)."""
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, EncryptedMixin)
    ]


def models_with_encrypted_fields(
    all_models: Iterable[type[models.Model]],
) -> list[tuple[type[models.Model], list[models.Field[Any, Any]]]]:
    """Each model that has encrypted fields, with them."""
    found = []
    for model in all_models:
        fields = encrypted_fields(model)
        if fields and not model._meta.proxy and model._meta.managed:
            found.append((model, fields))
    return found

"""`Authorization: Bearer tsk_...` authentication for partner systems."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from api.keys import APIKeyExpired, APIKeyInvalid, APIKeyRevoked, api_key_touch, api_key_verify
from api.language import bilingual
from api.models import APIKey
from api.principal import APIPrincipal

_MESSAGES = {
    APIKeyInvalid: bilingual("APIキーが正しくありません。", "The API key is not valid."),
    APIKeyExpired: bilingual("APIキーの有効期限が切れています。", "The API key has expired."),
    APIKeyRevoked: bilingual("APIキーは失効しています。", "The API key has been revoked."),
}


class APIKeyAuthentication(BaseAuthentication):
    """A bearer API key; answers (APIPrincipal, APIKey), or 401 for a bad, expired or revoked key.

    Requests without a Bearer header are left to the next authenticator (the session).
    """

    keyword = "bearer"
    realm = "tsunagu"

    def authenticate(self, request: Any) -> tuple[APIPrincipal, APIKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_MESSAGES[APIKeyInvalid], code="invalid_token")
        try:
            plaintext = parts[1].decode("ascii")
            key = api_key_verify(plaintext=plaintext)
        except UnicodeDecodeError:
            raise AuthenticationFailed(_MESSAGES[APIKeyInvalid], code="invalid_token") from None
        except (APIKeyInvalid, APIKeyExpired, APIKeyRevoked) as error:
            raise AuthenticationFailed(_MESSAGES[type(error)], code="invalid_token") from None
        api_key_touch(key=key)
        return APIPrincipal(key), key

    def authenticate_header(self, request: Any) -> str:
        return f'Bearer realm="{self.realm}"'

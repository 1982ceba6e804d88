"""What every response carries, and who may ask: security headers and the bearer token."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

TOKEN_ENV = "LAKEHOUSE_API_TOKEN"
TOKEN_FILE_ENV = "LAKEHOUSE_API_TOKEN_FILE"

# The page, its script and its style come from this server only; nothing inline runs, and no
# other site may frame the page. Swagger UI's page (/docs) needs inline styles and data: images.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
CSP_DOCS = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "img-src 'self'", "img-src 'self' data:"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Answers change with every commit and may need a token: never stored. The page and its
# files are revalidated, so a new version of the server is picked up at once.
CACHE_API = "no-store"
CACHE_PAGE = "no-cache"


class TokenError(ValueError):
    """The token's configuration is unusable (a blank token, an unreadable file)."""


def api_token() -> str | None:
    """The bearer token from $LAKEHOUSE_API_TOKEN, or from the file $LAKEHOUSE_API_TOKEN_FILE
    names; surrounding spaces and line ends are dropped. Never logged."""
    if TOKEN_ENV in os.environ:
        token, where = os.environ[TOKEN_ENV], f"${TOKEN_ENV}"
    elif os.environ.get(TOKEN_FILE_ENV):
        path = Path(os.environ[TOKEN_FILE_ENV])
        try:
            token, where = path.read_text(), f"the file {path} (${TOKEN_FILE_ENV})"
        except OSError as err:
            raise TokenError(
                f"${TOKEN_FILE_ENV} names {path}, which cannot be read: {err.strerror}"
            ) from None
    else:
        return None
    token = token.strip()
    if not token:
        raise TokenError(f"the token in {where} is blank")
    if any(c.isspace() for c in token) or not token.isprintable():
        raise TokenError(f"the token in {where} holds spaces or control characters")
    return token


def bearer_matches(authorization: str, token: str) -> bool:
    """Whether an Authorization header carries ``token`` by the Bearer scheme, whose name is
    case-insensitive (RFC 9110, 11.1); the token is compared in constant time."""
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())

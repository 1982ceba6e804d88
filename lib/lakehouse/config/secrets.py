"""Connector secrets from the environment: ``VAR`` holds the value, or ``VAR_FILE`` names a
file that does. Values never pass through YAML, logs or the run log."""

from __future__ import annotations

import os


class MissingSecret(RuntimeError):
    pass


def secret(env: str, what: str) -> str:
    if env in os.environ:
        return os.environ[env]
    file = os.environ.get(f"{env}_FILE")
    if file:
        try:
            with open(file, encoding="utf-8") as f:
                return f.read().strip()
        except OSError as exc:
            raise MissingSecret(f"{what}: {env}_FILE names {file}: {exc.strerror}") from None
    raise MissingSecret(f"{what}: set {env} (or {env}_FILE, a file holding it)")


def resolve(secrets: dict[str, str], what: str) -> dict[str, str]:
    """Option -> value, each read from the environment variable the YAML names."""
    return {option: secret(env, f"{what}: {option}") for option, env in secrets.items()}

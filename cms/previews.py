"""What a dry run found, kept on disk between the preview a user reviews and the "apply" they confirm."""

import json
import re
import uuid
from pathlib import Path

TOKEN = re.compile(r"[0-9a-f]{32}")


class PreviewGone(LookupError):
    """No preview with that token: never made, already applied, or tampered with."""


class PreviewForeign(PermissionError):
    """The preview belongs to another user."""


def keep(directory: Path, prefix: str, user_id: int, payload) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    (directory / f"{prefix}{token}.json").write_text(json.dumps({"user_id": user_id, "payload": payload}))
    return token


def take(directory: Path, prefix: str, token: str, user_id: int):
    """The kept payload, removed so it is applied once; only its owner may take it."""
    if not TOKEN.fullmatch(token or ""):
        raise PreviewGone(token)
    path = directory / f"{prefix}{token}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise PreviewGone(token) from None
    if data["user_id"] != user_id:
        raise PreviewForeign(token)
    path.unlink(missing_ok=True)
    return data["payload"]

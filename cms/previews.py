"""What a dry run found, kept on disk between the preview a user reviews and the "apply" they confirm, for at
most its lifetime: a preview nobody applied holds people's details, and goes once it is that old."""

import contextlib
import json
import re
import time
import uuid
from pathlib import Path

TOKEN = re.compile(r"[0-9a-f]{32}")


class PreviewGone(LookupError):
    """No preview with that token: never made, already applied, or tampered with."""


class PreviewForeign(PermissionError):
    """The preview belongs to another user."""


def keep(directory: Path, prefix: str, user_id: int, payload, lifetime: float) -> str:
    """Keep `payload` for its owner; its token. The previews `lifetime` seconds old or more are removed first."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob(f"{prefix}*.json"):
        with contextlib.suppress(FileNotFoundError):  # applied or removed by another request meanwhile
            if TOKEN.fullmatch(path.stem.removeprefix(prefix)) and _expired(path, lifetime):
                path.unlink(missing_ok=True)
    token = uuid.uuid4().hex
    (directory / f"{prefix}{token}.json").write_text(json.dumps({"user_id": user_id, "payload": payload}))
    return token


def take(directory: Path, prefix: str, token: str, user_id: int, lifetime: float):
    """The kept payload, removed so it is applied once; only its owner may take it, and only while it is younger
    than `lifetime` seconds."""
    if not TOKEN.fullmatch(token or ""):
        raise PreviewGone(token)
    path = directory / f"{prefix}{token}.json"
    try:
        if _expired(path, lifetime):
            path.unlink(missing_ok=True)
            raise PreviewGone(token)
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise PreviewGone(token) from None
    if data["user_id"] != user_id:
        raise PreviewForeign(token)
    # Claimed by renaming, which one request alone can do: two presses of "apply" both read the preview, and both
    # applied it (the second failed on the accounts the first had made).
    claimed = path.with_name(f"{path.name}.{uuid.uuid4().hex}.taken")
    try:
        path.rename(claimed)
    except FileNotFoundError:
        raise PreviewGone(token) from None
    claimed.unlink(missing_ok=True)
    return data["payload"]


def _expired(path: Path, lifetime: float) -> bool:
    """Whether the preview at `path` was written `lifetime` seconds ago or more (OSError when it is not there)."""
    return time.time() - path.stat().st_mtime >= lifetime

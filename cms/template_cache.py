"""Compiled templates: kept on disk between processes (Jinja's bytecode cache), and loaded when the app starts.

A new process compiles each template the first time a page uses it: a staff list page's dozen templates took
0.3-0.6 s on the first request a gunicorn worker served, and gunicorn replaces each worker after `max_requests`
(docs/deploy/gunicorn.conf.py), so a reader or an editor met that wait again and again. With the compiled code in
TEMPLATE_CACHE_DIR, loading every template takes ~50 ms instead of ~1.4 s, and with LOAD_TEMPLATES_AT_START the
process does it before it serves anyone. Jinja compares each template's source with the one its code was compiled
from, so a deploy that changes a template recompiles that template.
"""

import logging
import os
from pathlib import Path

from flask import Flask
from jinja2 import FileSystemBytecodeCache

log = logging.getLogger(__name__)

TEMPLATE_SUFFIXES = (".html", ".txt")


def init_app(app: Flask) -> None:
    folder = app.config["TEMPLATE_CACHE_DIR"]
    if folder:
        # Compiled code is run as it is read: only this account may write it.
        Path(folder).mkdir(mode=0o700, parents=True, exist_ok=True)
        app.jinja_env.bytecode_cache = FileSystemBytecodeCache(folder)
    if app.config["LOAD_TEMPLATES_AT_START"]:
        load_templates(app)


def load_templates(app: Flask) -> int:
    """Compile (or read from the cache) every template the app and its extensions can render; how many. Each stays
    in the environment's own cache (Jinja's `cache_size`, 400 templates; the app has about 130), so pages use it as
    loaded."""
    names = [name for name in app.jinja_env.list_templates() if name.endswith(TEMPLATE_SUFFIXES)]
    for name in names:
        app.jinja_env.get_template(name)
    log.debug("loaded %d templates in process %d", len(names), os.getpid())
    return len(names)

"""The objects a process makes while it starts, kept out of Python's cyclic garbage collector.

A started app holds about 190,000 objects (modules, models, routes, compiled templates and statements) that live as
long as the process. Python's oldest-generation collection walks all of them: it took ~100 ms, inside whichever
request happened to trigger it, about once every couple of hundred console pages per worker. That was the lone
100-190 ms request in console lists that otherwise take 15-30 ms. With FREEZE_OBJECTS_AT_START, `gc.freeze()` moves
them into the permanent generation once the app is built, so collections walk only what requests make. (Under
gunicorn's `preload_app` the master freezes them before forking, which also keeps the workers' copies of those
pages shared.)
"""

import gc
import logging

from flask import Flask

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    if app.config["FREEZE_OBJECTS_AT_START"]:
        gc.collect()
        gc.freeze()
        log.debug("%d objects frozen at start", gc.get_freeze_count())

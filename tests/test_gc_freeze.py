"""What an app builds at start is kept out of the garbage collector's passes (cms/gc_freeze.py): with
FREEZE_OBJECTS_AT_START a full collection no longer walks the app's ~190,000 start-up objects inside a request."""

import gc

import pytest

from tests.support.database import make_app


@pytest.fixture
def unfrozen():
    """Whatever a test freezes goes back to the collector's care afterwards, for the tests after it."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def collected(thing) -> bool:
    """Whether the cyclic collector's generations hold `thing` (frozen objects are in none of them)."""
    return any(candidate is thing for candidate in gc.get_objects())


def test_an_app_made_with_the_setting_is_frozen_and_serves_pages(app, tmp_path, unfrozen):
    frozen = make_app("sqlite", tmp_path, DATABASE_URL=app.config["DATABASE_URL"], FREEZE_OBJECTS_AT_START=True)
    assert gc.get_freeze_count() > 10_000
    assert not collected(frozen)
    assert not collected(frozen.view_functions)
    assert frozen.test_client().get("/en/").status_code == 200
    # What requests make afterwards is collected as ever.
    made_later: list = []
    assert collected(made_later)


def test_an_app_made_without_it_stays_with_the_collector(app, tmp_path, unfrozen):
    plain = make_app("sqlite", tmp_path, DATABASE_URL=app.config["DATABASE_URL"], FREEZE_OBJECTS_AT_START=False)
    assert gc.get_freeze_count() == 0
    assert collected(plain)

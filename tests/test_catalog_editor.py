"""One catalog on disk: filters and counts, and saves that never leave a broken or half-written file (nor keep a
catalog that does not compile)."""

import os
import shutil

import polib
import pytest
from babel.support import Translations

from cms import catalog_editor, i18n
from cms.catalog_editor import (
    CATALOG_COUNTS_CACHED,
    CatalogEditor,
    CatalogError,
    check_compiles,
    entry_counts,
    entry_state,
    locales,
    set_entry,
    write_catalog,
)


def change(editor: CatalogEditor, msgid: str, text: str, fuzzy: bool = False) -> polib.POFile:
    """The catalog as loaded, with one entry's translation changed (not written)."""
    catalog = editor.load()
    set_entry(next(e for e in catalog if e.msgid == msgid), {"0": text}, fuzzy, 2)
    return catalog


def served(directory, msgid: str) -> str:
    return Translations.load(str(directory), ["es"]).gettext(msgid)


def test_locales_are_the_folders_with_a_catalog_of_ours(catalog_dir):
    assert locales(catalog_dir) == ["es", "zh"]
    with pytest.raises(CatalogError, match="no catalog"):
        CatalogEditor("fr", catalog_dir)


def test_write_saves_the_po_and_serves_it_compiled(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    editor.write(change(editor, "Latest posts", "Lo último"))
    assert next(e for e in CatalogEditor("es", catalog_dir).load() if e.msgid == "Latest posts").msgstr == "Lo último"
    assert served(catalog_dir, "Latest posts") == "Lo último"
    assert not list(editor.po_path.parent.glob("*.tmp")), "no temporary files left behind"


def test_write_catalog_starts_a_new_language_folder(catalog_dir):
    catalog = CatalogEditor("es", catalog_dir).load()
    write_catalog(catalog, catalog_dir / "ca" / "LC_MESSAGES" / "messages.po")
    assert locales(catalog_dir) == ["ca", "es", "zh"]
    assert Translations.load(str(catalog_dir), ["ca"]).gettext("Latest posts") == served(catalog_dir, "Latest posts")


def test_a_catalog_that_does_not_compile_is_refused_before_it_is_kept(catalog_dir, monkeypatch):
    catalog = change(CatalogEditor("es", catalog_dir), "Latest posts", "Lo último")
    check_compiles(catalog, "es")

    def crash(*args, **kwargs):
        raise ValueError("bad plural rule")

    monkeypatch.setattr(catalog_editor, "write_mo", crash)
    with pytest.raises(CatalogError, match="nothing changed: bad plural rule"):
        check_compiles(catalog, "es")


def test_fuzzy_entries_are_not_served(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    editor.write(change(editor, "Latest posts", "Quizá", fuzzy=True))
    assert served(catalog_dir, "Latest posts") == "Latest posts"


def test_stats_and_filters_count_fuzzy_entries(catalog_dir):
    editor = CatalogEditor("es", catalog_dir)
    before = editor.stats()
    editor.write(change(editor, "Older", "Anteriores", fuzzy=True))
    after = editor.stats()
    assert (after["fuzzy"], after["translated"]) == (before["fuzzy"] + 1, before["translated"] - 1)
    assert [e.msgid for e in editor.find("fuzzy")] == ["Older"]
    assert all(entry_state(e) == "translated" for e in editor.find("translated"))
    assert "Older" in [e.msgid for e in editor.find(search="anteriores")], "search covers the translations too"


def test_the_counts_of_up_to_catalog_counts_cached_files_are_kept(catalog_dir, tmp_path):
    """Each version of a catalog file is parsed once while it stays among the last CATALOG_COUNTS_CACHED asked for;
    one more pushes out the one asked for longest ago."""
    source = catalog_dir / "es" / "LC_MESSAGES" / "messages.po"
    copies = []
    for n in range(CATALOG_COUNTS_CACHED + 1):
        copies.append(tmp_path / f"{n}.po")
        shutil.copy(source, copies[-1])

    def counts(path):
        found = path.stat()
        return entry_counts(str(path), (found.st_ino, found.st_size, found.st_mtime_ns))

    entry_counts.cache_clear()
    first = [counts(path) for path in copies[:CATALOG_COUNTS_CACHED]]
    assert first[0] == first[-1] and first[0][0] > 0
    assert [counts(path) for path in copies[:CATALOG_COUNTS_CACHED]] == first
    assert entry_counts.cache_info().misses == CATALOG_COUNTS_CACHED  # every second ask was kept
    counts(copies[CATALOG_COUNTS_CACHED])
    info = entry_counts.cache_info()
    assert info.currsize == CATALOG_COUNTS_CACHED and info.misses == CATALOG_COUNTS_CACHED + 1
    counts(copies[0])  # pushed out by the one over
    assert entry_counts.cache_info().misses == CATALOG_COUNTS_CACHED + 2


def test_a_crash_mid_write_leaves_the_old_files(catalog_dir, monkeypatch):
    editor = CatalogEditor("es", catalog_dir)
    before_po, before_mo = editor.po_path.read_bytes(), editor.mo_path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(i18n, "write_mo", crash)
    with pytest.raises(CatalogError, match="nothing changed"):
        editor.write(change(editor, "Latest posts", "Nunca guardado"))
    assert editor.po_path.read_bytes() == before_po and editor.mo_path.read_bytes() == before_mo
    assert not list(editor.po_path.parent.glob("*.tmp")), "no temporary files left behind"


@pytest.mark.parametrize("failing", [".mo", ".po"])
def test_a_failed_rename_leaves_a_working_po_and_a_matching_mo(catalog_dir, monkeypatch, failing):
    editor = CatalogEditor("es", catalog_dir)
    before_po, before_text = editor.po_path.read_bytes(), served(catalog_dir, "Latest posts")
    real_replace = os.replace

    def replace_or_die(src, dst):
        if str(dst).endswith(failing):
            raise OSError("power cut")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_or_die)
    with pytest.raises(CatalogError):
        editor.write(change(editor, "Latest posts", "Lo último"))
    monkeypatch.undo()
    assert editor.po_path.read_bytes() == before_po
    assert served(catalog_dir, "Latest posts") == before_text
    assert not list(editor.po_path.parent.glob("*.tmp"))

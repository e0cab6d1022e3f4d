"""The translator workspace over HTTP: who may use it, saving with CSRF, conflicts, uploads, new languages,
the content status page, and new strings served without a restart by every instance."""

import io
import json
import re
from datetime import UTC
from pathlib import Path

import polib
import pytest
import time_machine
from babel.messages.plurals import get_plural

from cms.catalogs import check_po_lines
from cms.extensions import db
from cms.i18n import TRANSLATIONS_DIR, translations_dir
from cms.models import utcnow
from tests.factories import make_post, make_translation
from tests.support.catalogs import entry_form, entry_page, translations_of_this_test
from tests.support.database import make_app
from tests.support.web import Browserish


@pytest.fixture
def workspace(app, users, tmp_path, catalog_dir):
    """Two app instances (as on two machines) on the test database, each building the catalogs it serves in its
    own folder from a private copy of the committed ones; yields that copy and the two instances."""
    backend = "mariadb" if db.engine.dialect.name == "mysql" else "sqlite"
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    workers = [
        make_app(backend, tmp_path / name, DATABASE_URL=url, CATALOG_SOURCE_DIR=str(catalog_dir))
        for name in ("one", "two")
    ]
    with translations_of_this_test(app):
        yield catalog_dir, workers


def served_po(worker, locale: str) -> Path:
    """The .po `worker` serves `locale` from (after its first request built it)."""
    return translations_dir(worker) / locale / "LC_MESSAGES" / "messages.po"


def browser(worker, role: str | None):
    client = Browserish(worker.test_client())
    if role:
        client.login(f"{role}@example.com")
    return client


def test_saved_translation_is_served_by_every_worker_without_restart(workspace):
    catalogs, (one, two) = workspace
    reader_two = browser(two, None)
    before = reader_two.get("/es/").get_data(as_text=True)
    translator = browser(one, "translator")
    page = translator.get("/admin/translations/es/?q=Latest+posts").get_data(as_text=True)
    form = entry_form(page, "Latest posts")
    response = translator.post("/admin/translations/es/save", data={**form, "form_0": "Lo más nuevo"})
    assert response.status_code == 302
    assert "Lo más nuevo" in browser(one, None).get("/es/").get_data(as_text=True)
    after = reader_two.get("/es/").get_data(as_text=True)
    assert "Lo más nuevo" in after and after != before
    for worker in (one, two):
        po = polib.pofile(str(served_po(worker, "es")))
        assert next(e for e in po if e.msgid == "Latest posts").msgstr == "Lo más nuevo"
    committed = polib.pofile(str(catalogs / "es" / "LC_MESSAGES" / "messages.po"))
    assert next(e for e in committed if e.msgid == "Latest posts").msgstr != "Lo más nuevo", (
        "the checkout is not written"
    )


def test_refused_entry_keeps_what_the_translator_typed(workspace):
    catalogs, (one, _) = workspace
    po = polib.pofile(str(catalogs / "es" / "LC_MESSAGES" / "messages.po"))
    msgid = next(e.msgid for e in po if "%(name)s" in e.msgid and not e.msgid_plural and not e.obsolete)
    translator = browser(one, "translator")
    page = entry_page(translator, "es", msgid)
    form = entry_form(page, msgid)
    response = translator.post("/admin/translations/es/save", data={**form, "form_0": "Hola <b>amigo"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "placeholders must match" in html and "Hola &lt;b&gt;amigo" in html


def test_a_save_of_a_message_a_deploy_took_out_says_so_and_shows_what_was_typed(workspace):
    """The message left the catalog (a deploy marked it obsolete) while the translator typed: the page said only
    "No messages match.", and the text was gone."""
    from cms import catalog_store

    catalogs, (one, _) = workspace
    translator = browser(one, "translator")
    form = entry_form(entry_page(translator, "es", "Older"), "Older")
    path = catalogs / "es" / "LC_MESSAGES" / "messages.po"
    po = polib.pofile(str(path))
    next(e for e in po if e.msgid == "Older").obsolete = True
    po.save()
    with one.app_context():
        catalog_store.refresh(one, force=True)
    response = translator.post("/admin/translations/es/save", data={**form, "form_0": "Mi texto tecleado"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "this message is no longer in the catalog" in html and "Mi texto tecleado" in html
    assert "No messages match." not in html


def test_a_refused_save_keeps_what_was_typed_whatever_state_its_address_names(workspace):
    _, (one, _) = workspace
    translator = browser(one, "translator")
    form = entry_form(entry_page(translator, "zh", "Sign in"), "Sign in")
    response = translator.post("/admin/translations/zh/save?state=bogus", data={**form, "form_0": "登录%"})
    assert response.status_code == 400 and "登录%" in response.get_data(as_text=True)


@pytest.mark.parametrize("original", ["[" * 50_000, "not json", ""], ids=["nested-past-the-parser", "text", "empty"])
def test_a_save_whose_opened_entry_cannot_be_read_is_a_400(workspace, original):
    _, (one, _) = workspace
    translator = browser(one, "translator")
    form = entry_form(translator.get("/admin/translations/es/?q=Older").get_data(as_text=True), "Older")
    response = translator.post("/admin/translations/es/save", data={**form, "original": original, "form_0": "x"})
    assert response.status_code == 400 and "The form was incomplete" in response.get_data(as_text=True)


def test_conflicting_edit_shows_both_texts(workspace):
    _, (one, two) = workspace
    first, second = browser(one, "translator"), browser(two, "administrator")
    form_first = entry_form(first.get("/admin/translations/zh/?q=Older").get_data(as_text=True), "Older")
    form_second = entry_form(second.get("/admin/translations/zh/?q=Older").get_data(as_text=True), "Older")
    assert first.post("/admin/translations/zh/save", data={**form_first, "form_0": "更早的"}).status_code == 302
    response = second.post("/admin/translations/zh/save", data={**form_second, "form_0": "旧一些"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else changed this message" in html and "更早的" in html and "旧一些" in html


def test_filters_search_and_stats(workspace):
    catalogs, (one, _) = workspace
    po = polib.pofile(str(catalogs / "es" / "LC_MESSAGES" / "messages.po"))
    target = next(e for e in po if e.msgid == "Older")
    target.flags.append("fuzzy")
    po.save()
    translator = browser(one, "translator")
    fuzzy = translator.get("/admin/translations/es/?state=fuzzy").get_data(as_text=True)
    assert '<pre class="mb-1 msgid">Older</pre>' in fuzzy and fuzzy.count('class="card mb-3 entry') == 1
    found = translator.get("/admin/translations/es/?q=Anteriores").get_data(as_text=True)
    assert '<pre class="mb-1 msgid">Older</pre>' in found, "search covers the translations too"
    overview = translator.get("/admin/translations/").get_data(as_text=True)
    assert 'data-locale="es"' in overview and 'role="progressbar"' in overview
    assert translator.get("/admin/translations/es/?state=nonsense").status_code == 404
    assert translator.get("/admin/translations/es/?page=999").status_code == 404


def test_download_and_upload_with_a_change_report(workspace):
    _, (one, _) = workspace
    translator = browser(one, "translator")
    po_text = translator.get("/admin/translations/es/download").get_data(as_text=True)
    upload = polib.pofile(po_text)
    next(e for e in upload if e.msgid == "Newer").msgstr = "Más nuevos"
    token = translator.token_for("/admin/translations/es/")
    report = translator.post(
        "/admin/translations/es/upload",
        data={"csrf_token": token, "file": (io.BytesIO(str(upload).encode()), "es.po")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "1 messages would change" in report and "Más nuevos" in report
    apply_token = re.search(r'name="token" value="([^"]+)"', report).group(1)
    applied = translator.post("/admin/translations/es/upload/apply", data={"token": apply_token, "csrf_token": token})
    assert "1 message updated." in translator.get(applied.location).get_data(as_text=True)
    po = polib.pofile(translator.get("/admin/translations/es/download").get_data(as_text=True))
    assert next(e for e in po if e.msgid == "Newer").msgstr == "Más nuevos"


def test_a_preview_applied_after_its_ttl_asks_for_the_file_again(workspace):
    _, (one, _) = workspace
    one.config["CATALOG_PREVIEW_TTL"] = 60
    translator = browser(one, "translator")
    upload = polib.pofile(translator.get("/admin/translations/es/download").get_data(as_text=True))
    next(e for e in upload if e.msgid == "Newer").msgstr = "Más nuevos"
    token = translator.token_for("/admin/translations/es/")
    with time_machine.travel(utcnow().replace(tzinfo=UTC), tick=False) as clock:
        report = translator.post(
            "/admin/translations/es/upload",
            data={"csrf_token": token, "file": (io.BytesIO(str(upload).encode()), "es.po")},
            content_type="multipart/form-data",
        ).get_data(as_text=True)
        apply_token = re.search(r'name="token" value="([^"]+)"', report).group(1)
        clock.shift(61)
        late = translator.post("/admin/translations/es/upload/apply", data={"token": apply_token, "csrf_token": token})
        assert late.status_code == 302
        assert "This preview has expired; upload the file again." in translator.get(late.location).get_data(
            as_text=True
        )
        po = polib.pofile(translator.get("/admin/translations/es/download").get_data(as_text=True))
    assert next(e for e in po if e.msgid == "Newer").msgstr != "Más nuevos"


def test_broken_upload_never_replaces_the_catalog(workspace):
    _, (one, _) = workspace
    translator = browser(one, "translator")
    token = translator.token_for("/admin/translations/es/")
    before = served_po(one, "es").read_bytes()
    response = translator.post(
        "/admin/translations/es/upload",
        data={"csrf_token": token, "file": (io.BytesIO(b"\x00\x01 not a catalog"), "es.po")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "not a readable" in response.get_data(as_text=True)
    assert served_po(one, "es").read_bytes() == before


UPLOAD_HEAD = 'msgid ""\nmsgstr ""\n"Language: es\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('msgid "Older"\nmsgstr "Viejos\n', "Line 7 is not a catalog line"),  # no closing quote: read as "Viejo"
        ('msgid "Older"\nmsgstr "Viejos\\q"\n', "Line 7 is not a catalog line"),  # an escape polib keeps as typed
        ('msgid "Older"\nmsgstr "Más\u2028antiguos"\n', "Line 7 holds the character U+2028"),
        ('#. a note\x1c\nmsgid "Older"\nmsgstr "Viejos"\n', "Line 6 holds the character U+001C"),
        ('msgid "Older"\nmsgstr[0] "Viejos"\n', "a translation of a singular original is msgstr, not msgstr[0]"),
    ],
    ids=["unterminated", "unknown-escape", "line-separator", "separator-in-a-comment", "plural-index-on-singular"],
)
def test_an_upload_polib_would_read_as_other_text_is_refused(workspace, entry, message):
    """polib read these entries as another text than the file's (a letter dropped, a translation blanked, a line
    split where the file has none), and the preview offered that text."""
    _, (one, _) = workspace
    translator = browser(one, "translator")
    before = polib.pofile(translator.get("/admin/translations/es/download").get_data(as_text=True))
    token = translator.token_for("/admin/translations/es/")
    response = translator.post(
        "/admin/translations/es/upload",
        data={"csrf_token": token, "file": (io.BytesIO((UPLOAD_HEAD + entry).encode()), "es.po")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert message in html and 'id="upload-changes"' not in html
    after = polib.pofile(translator.get("/admin/translations/es/download").get_data(as_text=True))
    assert next(e for e in after if e.msgid == "Older").msgstr == next(e for e in before if e.msgid == "Older").msgstr


def test_every_committed_catalog_passes_the_upload_line_check():
    for path in TRANSLATIONS_DIR.rglob("*.po"):
        check_po_lines(path.read_text(encoding="utf-8"))


def test_an_upload_naming_an_unknown_charset_is_refused(workspace):
    _, (one, _) = workspace
    translator = browser(one, "translator")
    token = translator.token_for("/admin/translations/es/")
    catalog = b'msgid ""\nmsgstr ""\n"Language: es\\n"\n"Content-Type: text/plain; charset=bogus\\n"\n\nmsgid "Older"\nmsgstr "Anteriores"\n'
    response = translator.post(
        "/admin/translations/es/upload",
        data={"csrf_token": token, "file": (io.BytesIO(catalog), "es.po")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "not a readable UTF-8 .po catalog" in response.get_data(as_text=True)


def test_admin_adds_a_language(workspace):
    _, (one, two) = workspace
    admin = browser(one, "administrator")
    response = admin.post("/admin/translations/add", data={"locale": "fr", "csrf_token": admin.csrf()})
    assert response.status_code == 302 and response.location.endswith("/admin/translations/fr/")
    created = polib.pofile(str(served_po(one, "fr")))
    assert created.metadata["Plural-Forms"] == get_plural("fr").plural_forms  # Babel's data, not a copy of it
    assert "Readers see fr once it is added to CMS_LOCALES." in admin.get(response.location).get_data(as_text=True)
    assert browser(two, "administrator").get("/admin/translations/fr/").status_code == 200, "the other instance too"
    translator = browser(one, "translator")
    assert (
        translator.post("/admin/translations/add", data={"locale": "de", "csrf_token": translator.csrf()}).status_code
        == 403
    )


def test_content_status_lists_posts_needing_translation(workspace, users):
    _, (one, _) = workspace
    missing = make_post(users["editor"], "published", title="Needs everything")
    done = make_post(users["editor"], "published", title="All done")
    for locale in ("zh", "es"):
        make_translation(done, locale, title="x", body="")
    html = browser(one, "translator").get("/admin/translations/content/").get_data(as_text=True)
    assert "Needs everything" in html and "All done" not in html
    assert f'href="/admin/translations/content/{missing.id}/zh/"' in html


@pytest.mark.parametrize(
    ("page", "status"),
    [("1", 200), ("0", 404), ("2", 404), ("184467440737095517", 404), ("99999999999999999999", 404)],
    ids=["first", "zero", "past-the-end", "past-the-largest-offset", "past-the-largest-integer"],
)
def test_a_page_of_the_posts_needing_translation_past_the_end_or_past_any_offset_is_a_404(
    workspace, users, page, status
):
    """A page number whose offset the database cannot hold was a 500 (SQLite's OverflowError)."""
    _, (one, _) = workspace
    make_post(users["editor"], "published", title="Needs everything")
    assert browser(one, "translator").get(f"/admin/translations/content/?page={page}").status_code == status


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 302), ("reader", 403), ("author", 403), ("editor", 403), ("moderator", 403), ("translator", 200),
     ("administrator", 200)],
)  # fmt: skip
def test_only_translators_and_admins_reach_the_workspace(workspace, role, status):
    _, (one, _) = workspace
    client = browser(one, role)
    for url in ("/admin/translations/", "/admin/translations/zh/", "/admin/translations/zh/download",
                "/admin/translations/content/"):  # fmt: skip
        assert client.get(url).status_code == status, url
    post_status = status if status != 200 else 400
    token = client.csrf()
    response = client.post("/admin/translations/zh/save", data={"csrf_token": token, "key": "x", "original": "{"})
    assert response.status_code == post_status


def test_posts_without_csrf_are_refused(workspace):
    _, (one, _) = workspace
    translator = browser(one, "translator")
    form = entry_form(translator.get("/admin/translations/es/?q=Older").get_data(as_text=True), "Older")
    del form["csrf_token"]
    assert translator.post("/admin/translations/es/save", data={**form, "form_0": "x"}).status_code == 400
    assert json.loads(form["original"])["forms"]["0"] != "x"


@pytest.mark.parametrize(
    ("msgid", "hostile", "problem"),
    [
        ("Sign in", "登录<img src=x onerror=alert(document.domain)/>", "markup"),
        ("Staff console", "控制台<script>window.__xss=1</script>", "markup"),
        ("Sign in", "登录%", "formatted"),
        ("Sign in", "登录 <![x[", "markup"),  # Python's HTML parser asserts on a marked section it does not know
        ("Sign in", "登录 <![ 更多", "markup"),
        ("Newsroom", "新闻\x01中心", "U+0001"),  # the Atom feed's title: not XML
        ("Newsroom", "新闻\x1b[31m中心", "U+001B"),
        ("Newsroom", "新闻\ufffe中心", "U+FFFE"),
        ("Older", "更早\u2028的", "U+2028"),  # a .po line break to polib: the download read back as other text
        ("Older", "更早\x85的", "U+0085"),
    ],
)
def test_a_hostile_or_broken_string_is_refused_and_the_language_keeps_working(workspace, msgid, hostile, problem):
    _, (one, two) = workspace
    translator = browser(one, "translator")
    page = entry_page(translator, "zh", msgid)
    response = translator.post("/admin/translations/zh/save", data={**entry_form(page, msgid), "form_0": hostile})
    assert response.status_code == 400 and problem in response.get_data(as_text=True)
    for worker in (one, two):
        for url in ("/zh/", "/login?lang=zh"):
            served = browser(worker, None).get(url)
            assert served.status_code == 200 and hostile not in served.get_data(as_text=True), url


def test_quotes_in_a_translation_are_text_even_inside_an_attribute(workspace):
    """ "Language" is shown inside aria-label="…": a translation that closes the quote stays inside it."""
    _, (one, two) = workspace
    translator = browser(one, "translator")
    page = entry_page(translator, "zh", "Language")
    attack = '语言" onmouseover="alert(document.cookie)" x="'
    response = translator.post("/admin/translations/zh/save", data={**entry_form(page, "Language"), "form_0": attack})
    assert response.status_code == 302  # no markup: the checks accept it as text
    for worker in (one, two):
        for url in ("/zh/", "/login?lang=zh"):
            html = browser(worker, None).get(url).get_data(as_text=True)
            assert 'aria-label="语言&#34; onmouseover=&#34;alert(document.cookie)&#34; x=&#34;"' in html, url
            assert 'onmouseover="alert' not in html


def test_the_translations_page_is_headed_once_by_its_name(login_as, users):
    html = login_as("translator").get("/admin/translations/").get_data(as_text=True)
    assert re.findall(r"<h[1-6][^>]*>\s*Translations\s*</h[1-6]>", html) == ['<h1 class="h4 mb-4">Translations</h1>']


def test_a_saved_menu_label_shows_in_the_console_menu_of_every_instance(workspace):
    """The console keeps its menus rendered (admin_views/menu.py); a catalog change renders them again."""
    _, (one, two) = workspace
    staff = [browser(worker, "administrator") for worker in (one, two)]
    for client in staff:
        assert "Comentarios Nuevos" not in client.get("/admin/post/?lang=es").get_data(as_text=True)
    translator = browser(one, "translator")
    page = translator.get("/admin/translations/es/?q=Comments&exact=1").get_data(as_text=True)
    form = entry_form(page, "Comments")
    response = translator.post("/admin/translations/es/save", data={**form, "form_0": "Comentarios Nuevos"})
    assert response.status_code == 302
    for client in staff:
        html = client.get("/admin/post/?lang=es").get_data(as_text=True)
        menu = html[html.index('<ul class="nav navbar-nav mr-auto">') : html.index("navbar-right")]
        assert "Comentarios Nuevos</a>" in menu

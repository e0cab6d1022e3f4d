"""No query string makes any GET route answer 500: every route of the URL map, anonymous and as an
administrator, with odd parameters drawn by Hypothesis (url_for's own names, filter and paging arguments,
hostile and malformed values)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cms.models import PostStatus
from tests.factories import make_comment, make_post
from tests.support.routes import get_routes

# Names the app or its libraries read from the query string, plus url_for's own keyword names.
KEYS = [
    "endpoint", "_external", "_anchor", "_scheme", "_method", "lang", "locale", "next", "page", "page_size",
    "per_page", "sort", "desc", "search", "q", "state", "id", "url", "a", "b", "name", "query", "limit",
    "offset", "exact_count", "flt0_status_equals", "flt0_post_id_equals", "flt1_created_on_or_after",
    "flt0_0", "format", "token", "revision", "since", "before", "month",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(["", "0", "-1", "1e9", "99999999999999999999", "x", "null", "%", "%00", "../../etc/passwd",
                     "javascript:alert(1)", "<script>", "2026-13-45", "zz", "中文", "\x00", "true", "[]", "{}"]),
    st.text(max_size=12),
)  # fmt: skip
QUERIES = st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=1, max_size=4)


@pytest.fixture
def routes(app, users):
    post = make_post(users["author"], PostStatus.PUBLISHED, title="Fuzzed")
    make_comment(users["reader"], post)
    sample = {"locale": "en", "slug": post.slug, "username": "author", "post_id": post.id, "export_type": "csv",
              "job_id": "0" * 32, "kind": "csv", "token": "x", "filename": "x.png"}  # fmt: skip
    return get_routes(app, sample)


@pytest.mark.parametrize("role", [None, "administrator"])
def test_no_query_string_gives_a_server_error(login_as, routes, role):
    browser = login_as(role)

    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(query=QUERIES)
    def check(query):
        for url in routes:
            response = browser.get(url, query_string=query)
            assert response.status_code < 500, (url, query, response.status_code)

    assert len(routes) > 60
    check()

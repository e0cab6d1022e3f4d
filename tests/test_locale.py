"""cms/locale.py: language names and file sizes as the reader writes them."""

import pytest

from cms.locale import file_size, language_name


@pytest.mark.parametrize(
    ("size", "reader", "shown"),
    [
        (1, "en", "1 byte"),
        (10 * 1024 - 1, "en", "10,239 bytes"),  # exact up to the threshold, where a small limit must read exactly
        (10 * 1024 - 1, "zh", "10,239字节"),
        (10 * 1024, "en", "10 kB"),
        (50_000, "es", "48,8 kB"),
        (16 * 1024 * 1024, "zh", "16 MB"),
    ],
)
def test_a_size_is_exact_in_bytes_below_ten_kilobytes_and_rounded_above(app, size, reader, shown):
    with app.test_request_context(f"/?lang={reader}"):
        assert file_size(size) == shown


@pytest.mark.parametrize(("reader", "names"), [("en", "English Chinese Spanish"), ("zh", "英语 中文 西班牙语")])
def test_languages_are_named_in_the_readers_language(app, reader, names):
    with app.test_request_context(f"/?lang={reader}"):
        assert " ".join(language_name(code) for code in ("en", "zh", "es")) == names
        assert language_name("not a language") == "not a language"

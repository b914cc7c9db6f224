"""Golden disk URLs and the page-range arithmetic (pure logic)."""

import pytest

from ansible_collections.openadapt.waa.plugins.module_utils import _blob


@pytest.mark.parametrize("url, expected", [
    ("https://acct.blob.core.windows.net/golden/waa/2026", ("acct", "https://acct.blob.core.windows.net/golden", "waa/2026")),
    ("http://127.0.0.1:10000/devstoreaccount1/golden/g1", ("devstoreaccount1", "http://127.0.0.1:10000/devstoreaccount1/golden", "g1")),
    ("https://gov.blob.core.usgovcloudapi.net/c/f/", ("gov", "https://gov.blob.core.usgovcloudapi.net/c", "f")),
])
def test_golden_urls_split_into_account_container_and_folder(url, expected):
    assert _blob.split_golden_url(url) == expected


@pytest.mark.parametrize("url, words", [
    ("https://acct.blob.core.windows.net/golden/x?sv=1&sig=2", "no SAS"),
    ("https://acct.blob.core.windows.net/golden", "names no folder"),
    ("https://acct.blob.core.windows.net/golden/../x", "names no folder"),
    ("http://127.0.0.1:10000/", "names no account"),
    ("file:///tmp/x", "is not a blob folder URL"),
])
def test_bad_golden_urls_are_refused_naming_the_form(url, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        _blob.split_golden_url(url)


def test_a_block_is_sent_again_only_when_no_page_range_covers_it():
    present = [(0, 4096), (8192, 16384)]
    assert _blob._covered(present, 0, 4096) and _blob._covered(present, 8192, 12288)
    assert not _blob._covered(present, 4096, 8192) and not _blob._covered(present, 0, 8192)
    assert len(_blob._pad(b"x" * 513)) == 1024 and _blob._pad(b"") == b""

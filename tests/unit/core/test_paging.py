"""The one page envelope and paging a list already in memory."""

from portal.core.apipaging import envelope
from portal.core.paging import MAX_PER_PAGE, Page, of_list


def test_envelope_counts_pages():
    assert envelope(Page([1, 2], 41, 2, 20)) == {
        "items": [1, 2],
        "total": 41,
        "page": 2,
        "per_page": 20,
        "pages": 3,
    }
    assert envelope(Page([], 0, 1, 20))["pages"] == 1


def test_envelope_can_show_the_items_differently():
    assert envelope(Page([1, 2], 2, 1, 20), items=["one", "two"])["items"] == ["one", "two"]


def test_a_list_in_memory_is_paged_like_a_query():
    page = of_list(list(range(45)), 3, 20)
    assert (page.items, page.total, page.pages, page.has_prev, page.has_next) == (
        list(range(40, 45)),
        45,
        3,
        True,
        False,
    )
    assert of_list(list(range(5)), 9, 20).items == []  # past the last page: empty, same total
    assert of_list([], 1, 0).per_page == 1  # an empty list is one empty page
    assert of_list(list(range(500)), 1, 10_000).per_page == MAX_PER_PAGE


def test_a_page_number_from_a_url_is_always_a_page():
    from portal.core.paging import MAX_PAGE, page_number

    assert [page_number(v) for v in ("3", None, "", "abc", "-4", "0", "1.5")] == [
        3,
        1,
        1,
        1,
        1,
        1,
        1,
    ]
    assert page_number(str(10**30)) == MAX_PAGE

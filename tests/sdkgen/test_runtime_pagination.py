"""Pagination by the host: page, offset, cursor and Link header against a loopback API, bounded."""

# ruff: noqa: F811 - pytest fixtures imported from runtime_fixtures
from __future__ import annotations

from collections.abc import Iterator

import pytest

from activities.errors import EgressDeniedError
from sdkgen.model import Accessibility, Pagination
from sdkgen.runtime import CallTarget, iter_items, next_link
from tests.console_api.served import serve
from tests.sdkgen.runtime_api import ITEMS, ApiState, make_api
from tests.sdkgen.runtime_fixtures import (  # noqa: F401
    Rig,
    guest_component,
    guest_precompiled,
    op,
    rig,
)


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serve(make_api(ApiState())) as base:
        yield base


def _pages(rig: Rig, api: str, path: str, pagination: Pagination) -> list:
    target = CallTarget(
        tenant="t1", api="shop", base_url=api, accessibility=Accessibility.LOCAL, runs_on="agent"
    )
    return list(
        rig.host.paginate(
            sdk=rig.sdk, operation=op("list"), args={"_path": path}, target=target, pagination=pagination
        )
    )


@pytest.mark.parametrize(
    "path,pagination",
    [
        ("/pages", Pagination(kind="page", param="page", size_param="size", size=10, items_path="data")),
        (
            "/offset",
            Pagination(kind="offset", param="offset", size_param="limit", size=10, items_path="data"),
        ),
        ("/cursor", Pagination(kind="cursor", param="cursor", items_path="data", cursor_path="meta.next")),
        ("/link", Pagination(kind="link", items_path="")),
    ],
    ids=["page", "offset", "cursor", "link"],
)
def test_pagination_styles(rig: Rig, api: str, path: str, pagination: Pagination) -> None:
    pages = _pages(rig, api, path, pagination)
    assert list(iter_items(pages, pagination.items_path)) == ITEMS
    assert len(pages) in (3, 4)  # page/offset may need one empty page to learn the end


def test_max_pages_bound(rig: Rig, api: str) -> None:
    pages = _pages(
        rig, api, "/endless", Pagination(kind="page", param="page", items_path="data", max_pages=4)
    )
    assert len(pages) == 4 and [p.body["data"][0] for p in pages] == [1, 2, 3, 4]


def test_link_next_to_foreign_origin_refused(rig: Rig, api: str) -> None:
    target = CallTarget(
        tenant="t1", api="shop", base_url=api, accessibility=Accessibility.LOCAL, runs_on="agent"
    )
    walk = rig.host.paginate(
        sdk=rig.sdk,
        operation=op("list"),
        args={"_path": "/link", "foreign": "http://169.254.169.254"},
        target=target,
        pagination=Pagination(kind="link"),
    )
    first = next(walk)
    assert "169.254.169.254" in first.headers["link"]
    dials = rig.host.stats.dials
    with pytest.raises(EgressDeniedError):
        next(walk)
    assert rig.host.stats.dials == dials


def test_next_link_parsing() -> None:
    assert next_link('<https://a/x?p=2>; rel="next", <https://a/x?p=1>; rel="first"') == "https://a/x?p=2"
    assert next_link('<https://a/x?p=1>; rel="prev"') is None
    assert next_link(None) is None

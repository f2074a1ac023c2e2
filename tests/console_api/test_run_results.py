"""How `vsc run` and the demo judge and summarise every kind of result: one verdict rule per pattern."""

from __future__ import annotations

from rich.console import Console

from console_api.runs import SummaryLine, print_results, print_summary, verified
from workflows.api_types import ApiFlowResult, ApiStepResult
from workflows.bidi_types import BidiResult, SideResult
from workflows.fan_types import DestinationStatus, FanInResult, FanOutResult, SourceCount
from workflows.sync_types import DerivedResult, SyncResult, TableResult
from workflows.types import Fingerprint

A, B = Fingerprint(rows=3, content_hash="a" * 32), Fingerprint(rows=3, content_hash="b" * 32)
LINK = "http://127.0.0.1:8233/namespaces/default/workflows/demo-3.4.1-0123456789abcdef/0123-4567-89ab/history"


def fan_out(*states: tuple[str, Fingerprint | None]) -> FanOutResult:
    destinations = tuple(
        DestinationStatus(connection=f"dw{i}", state=state, attempts=1, rows_written=3, fingerprint=fp)  # type: ignore[arg-type]
        for i, (state, fp) in enumerate(states)
    )
    return FanOutResult(table="t", rows_extracted=3, source=A, destinations=destinations)


def test_fan_out_is_verified_only_when_every_destination_is_done_and_equal() -> None:
    assert verified(fan_out(("done", A), ("done", A)))
    assert not verified(fan_out(("done", A), ("failed", None)))
    assert not verified(fan_out(("done", A), ("done", B)))


def test_fan_in_is_verified_when_the_destination_equals_the_merge() -> None:
    sources = (
        SourceCount(connection="a", rows_read=3, rows_kept=2),
        SourceCount(connection="b", rows_read=2, rows_kept=1),
    )
    good = FanInResult(
        sources=sources, duplicates_dropped=2, rows_loaded=3, rows_written=3, merged=A, destination=A
    )
    assert verified(good) and not verified(good.model_copy(update={"destination": B}))
    line = SummaryLine.of(good, link=LINK)
    assert line.counts == "5 rows from 2 sources, 2 duplicates dropped, 3 loaded" and line.verified


def test_summary_lines_name_the_counts_of_each_kind() -> None:
    sync = SyncResult(
        pattern="3.1.1",
        tables=(
            TableResult(
                source_table="t", destination_table="t", rows_read=3, rows_written=3, source=A, destination=A
            ),
        ),
    )
    step = ApiStepResult(step="send", location="cloud", operation="o", calls=1, records=3, fingerprint=A)
    api = ApiFlowResult(pattern="3.2.2", steps=(step.model_copy(update={"step": "read"}), step))
    bidi = BidiResult(
        left=SideResult(rows_written=4), right=SideResult(rows_written=5), conflicts=2, parked=1
    )
    assert SummaryLine.of(sync, link=LINK, label="erp_pg").counts == "erp_pg: 1 table(s), 3 rows written"
    assert SummaryLine.of(api, link=LINK).counts == "3 read, 3 records sent"
    assert SummaryLine.of(bidi, link=LINK).counts == "left wrote 4, right wrote 5, 2 conflicts (1 parked)"
    assert SummaryLine.of(fan_out(("done", A)), link=LINK).counts == "3 rows extracted once -> dw0 3"


def test_the_summary_prints_every_link_whole_and_every_verdict() -> None:
    console = Console(width=120, record=True)
    lines = [
        SummaryLine.of(fan_out(("done", A)), link=LINK),
        SummaryLine.of(fan_out(("failed", None)), link=LINK),
    ]
    print_summary(console, lines)
    text = console.export_text()
    assert "…" not in text  # folded over lines when narrow, never cut
    assert text.count("0123-4567-89ab/history") == 2
    assert "yes" in text and "no" in text


def test_fan_results_print_one_row_per_endpoint() -> None:
    console = Console(width=160, record=True)
    print_results(console, fan_out(("done", A), ("retrying", None)), link=LINK)
    text = console.export_text()
    assert "dw0" in text and "dw1" in text and "retrying" in text


def test_a_sync_with_a_derived_table_is_verified_only_when_its_destination_equals_the_output() -> None:
    table = TableResult(source_table="t", destination_table="t", source=A, destination=A)
    derived = DerivedResult(destination_table="by_city", rows=3, rows_written=3, output=A, destination=A)
    good = SyncResult(pattern="3.3.1", tables=(table,), derived=(derived,))
    assert verified(good)
    assert not verified(good.model_copy(update={"derived": (derived.model_copy(update={"destination": B}),)}))
    console = Console(width=160, record=True)
    print_results(console, good, link=LINK)
    assert "derived -> by_city" in console.export_text()

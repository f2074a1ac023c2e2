"""``vsc run`` / the demo with Mode 2 results: ApiFlowResult printed and verified, progress queried raw."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from console_api.runs import follow_run, print_results, progress_text, verified
from workflows.api_types import ApiFlowResult, ApiStepResult
from workflows.sync_types import SyncState
from workflows.types import Fingerprint


def fp(rows: int, value: int) -> Fingerprint:
    return Fingerprint(rows=rows, content_hash=f"{value:032x}")


def db_to_api(sent: Fingerprint) -> ApiFlowResult:
    return ApiFlowResult(
        pattern="3.1.2",
        steps=(
            ApiStepResult(
                step="read",
                location="agent",
                operation="erp.orders",
                calls=0,
                records=10,
                fingerprint=fp(10, 7),
            ),
            ApiStepResult(
                step="send",
                location="agent",
                operation="vansales.create_orders",
                calls=2,
                records=10,
                fingerprint=sent,
            ),
        ),
    )


def test_3_1_2_verifies_when_sent_hash_equals_the_table_hash() -> None:
    assert verified(db_to_api(fp(10, 7)))
    assert not verified(db_to_api(fp(10, 8)))
    assert not verified(ApiFlowResult(pattern="3.1.2", steps=()))


def test_3_3_3_verifies_when_the_load_fingerprint_counts_what_it_sent() -> None:
    extract = ApiStepResult(
        step="extract", location="agent", operation="list_orders", calls=3, records=30, fingerprint=fp(30, 1)
    )
    load = ApiStepResult(
        step="transform+load",
        location="cloud",
        operation="create_orders",
        calls=3,
        records=24,
        fingerprint=fp(24, 2),
    )
    assert verified(ApiFlowResult(pattern="3.3.3", steps=(extract, load)))
    wrong = load.model_copy(update={"records": 25})
    assert not verified(ApiFlowResult(pattern="3.3.3", steps=(extract, wrong)))


def test_print_results_shows_one_row_per_step_with_counts() -> None:
    console = Console(record=True, width=200)
    print_results(console, db_to_api(fp(10, 7)), link="http://ui/run")
    text = console.export_text()
    assert "vansales.create_orders" in text and "erp.orders" in text
    assert text.count("3.1.2") == 2 and "yes" in text and "http://ui/run" in text


def test_progress_text_reads_each_pattern_family() -> None:
    assert progress_text(1234) == "1,234 records sent"
    assert progress_text([{"step": "extract"}]) == "1 step(s) done"
    assert progress_text(SyncState(done=())).startswith("0 table(s) done")


class FakeHandle:
    """A handle whose progress query answers raw JSON, as Temporal does without a result type."""

    def __init__(self, result: ApiFlowResult) -> None:
        self.asked: list[Any] = []
        self._result = result

    async def query(self, name: str, result_type: Any = None) -> Any:
        self.asked.append((name, result_type))
        return 500

    async def result(self) -> ApiFlowResult:
        import asyncio

        await asyncio.sleep(0.7)  # long enough for one progress query
        return self._result


async def test_follow_run_queries_mode_2_progress_without_sync_state() -> None:
    handle = FakeHandle(db_to_api(fp(10, 7)))
    result = await follow_run(handle, console=Console(quiet=True), pattern="3.1.2")  # type: ignore[arg-type]
    assert result == db_to_api(fp(10, 7))
    assert handle.asked and all(rt is None for _, rt in handle.asked)

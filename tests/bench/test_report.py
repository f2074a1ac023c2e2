"""Summary arithmetic: medians over good runs, ratios only to the same benchmark's raw pipe."""

from __future__ import annotations

from bench.report import RunRecord, summarise


def rec(system: str, wall: float | None, *, ok: bool = True, table: str = "t") -> RunRecord:
    return RunRecord(
        bench_id="b",
        system=system,
        label=system,
        table=table,
        rep=0,
        position=0,
        rows=1000,
        binary_bytes=2_000_000,
        wall_s=wall,
        dst_rows=1000 if ok else 999,
        hash_ok=ok,
    )


def test_summary_uses_medians_and_ratios_to_the_raw_pipe_of_the_same_table() -> None:
    rows = summarise(
        [
            rec("raw_pipe", 1.0),
            rec("raw_pipe", 3.0),
            rec("raw_pipe", 2.0),
            rec("p311", 4.0),
            rec("p311", 8.0),
            rec("p311", 5.0),
            rec("p311", 0.1, table="other"),
        ]
    )
    by = {(r.system, r.table): r for r in rows}
    raw, ours = by[("raw_pipe", "t")], by[("p311", "t")]
    assert raw.median_wall_s == 2.0 and raw.ratio == 1.0
    assert ours.median_wall_s == 5.0 and ours.ratio == 0.4
    assert ours.rows_per_s == 200.0 and ours.mb_per_s == 0.4
    assert by[("p311", "other")].ratio is None  # no baseline on that table: no ratio


def test_a_mismatched_run_is_excluded_from_the_median_and_marks_the_row_failed() -> None:
    rows = summarise([rec("raw_pipe", 1.0), rec("p311", 0.5, ok=False), rec("p311", 2.0)])
    ours = next(r for r in rows if r.system == "p311")
    assert ours.median_wall_s == 2.0
    assert ours.hash_ok is False


def test_ratio_to_dlt_uses_the_same_tables_dlt_run_and_a_skipped_peer_is_not_a_failure() -> None:
    skipped = rec("sling", None, ok=False).model_copy(
        update={"skipped": True, "error": "sling: not installed"}
    )
    rows = summarise([rec("raw_pipe", 1.0), rec("dlt", 6.0), rec("p311", 2.0), skipped])
    by = {r.system: r for r in rows}
    assert by["p311"].ratio_dlt == 3.0 and by["dlt"].ratio_dlt == 1.0
    assert by["sling"].skipped == "sling: not installed" and by["sling"].median_wall_s is None
    assert skipped.ok is False and skipped.skipped

"""Each peer tool copying one table, called the way BENCHMARKS.md Part 3 found works offline.

Every peer creates its own destination table (its own DDL, in its own schema where it has one),
so the benchmark verifies it with the type-cast content hash of :func:`bench.pg.parity`. The
tools run as child processes reaped by :mod:`bench.procs` (peak RSS per run); their logs and
working files stay in the run's scratch directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from bench import procs
from bench.peers.venvs import PEERS_DIR, VENVS_DIR, ensure_pgloader
from bench.systems import Target

DLT_SCHEMA = "dlt"
SLING_SCHEMA = "sling"
SINGER_SCHEMA = "singer"
PGLOADER_SCHEMA = "public"
_PASSWORD = "bench"
"""The benchmark server trusts loopback, but dlt, Singer and pgloader refuse a URL without a
password; any password is accepted by ``trust``, so a fixed dummy one is filled in."""


def with_password(url: str) -> str:
    """``url`` with the dummy password filled in when it has none (``postgresql://u@h`` -> ``u:bench@h``)."""
    parts = urlsplit(url)
    if parts.password is not None or parts.username is None:
        return url
    netloc = f"{parts.username}:{_PASSWORD}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def _offline_env(workdir: Path) -> dict[str, str]:
    # HOME in the scratch dir: tools that write config or version files there leave nothing behind
    return {**os.environ, "HOME": str(workdir), "RUNTIME__DLTHUB_TELEMETRY": "false"}


def dlt_copy(target: Target) -> None:
    """dlt 1.31: ConnectorX -> Arrow -> Parquet -> ADBC into schema ``dlt`` (``replace``)."""
    python = VENVS_DIR / "dlt" / "bin" / "python"
    # SQLAlchemy (dlt's reflection) reads mysql:// as MySQLdb; the venv has PyMySQL
    src = target.src_url
    src = src.replace("mysql://", "mysql+pymysql://", 1) if src.startswith("mysql://") else with_password(src)
    argv = [
        str(python),
        str(PEERS_DIR / "dlt_copy.py"),
        src,
        with_password(target.dst_url),
        target.table,
        DLT_SCHEMA,
        str(target.workdir / "dlt-pipelines"),
    ]
    procs.check(procs.run(argv, env=_offline_env(target.workdir), logdir=target.workdir), what="dlt")


def sling_binary() -> Path:
    """The Go binary inside the ``sling-linux-amd64`` wheel of the sling venv."""
    found = sorted(
        (VENVS_DIR / "sling" / "lib").glob("python3*/site-packages/sling_linux_amd64/bin/sling-linux-amd64")
    )
    if not found:
        raise FileNotFoundError(f"no sling binary under {VENVS_DIR / 'sling'}")
    return found[0]


def sling_copy(target: Target) -> None:
    """sling 1.4.11 ``run --mode full-refresh`` (bulk COPY into a temp table, then insert)."""
    env = {
        **_offline_env(target.workdir),
        "SLING_HOME_DIR": str(target.workdir / "sling-home"),
        "SLING_DISABLE_TELEMETRY": "true",
        "PGSRC": with_password(target.src_url) + "?sslmode=disable",
        "PGDST": with_password(target.dst_url) + "?sslmode=disable",
    }
    argv = [
        str(sling_binary()),
        "run",
        "--src-conn",
        "PGSRC",
        "--src-stream",
        f"public.{target.table}",
        "--tgt-conn",
        "PGDST",
        "--tgt-object",
        f"{SLING_SCHEMA}.{target.table}",
        "--mode",
        "full-refresh",
    ]
    procs.check(procs.run(argv, env=env, logdir=target.workdir), what="sling")


def _pgloader_url(url: str) -> str:
    return "pgsql://" + with_password(url).split("://", 1)[1]


def pgloader_copy(target: Target) -> None:
    """pgloader 3.6.9 with a load file; ``batch rows = 10000`` (defaults exhaust SBCL's heap)."""
    load = target.workdir / "pg.load"
    load.write_text(
        f"LOAD DATABASE\n  FROM {_pgloader_url(target.src_url)}\n  INTO {_pgloader_url(target.dst_url)}\n"
        "WITH include drop, create tables, create no indexes, batch rows = 10000, prefetch rows = 10000\n"
        # pgloader 3.6.9 writes "timestamp with time zone(6)" (a syntax error) for a typmod'ed column
        'CAST type "timestamp with time zone" to "timestamp with time zone" drop typemod\n'
        f"INCLUDING ONLY TABLE NAMES MATCHING '{target.table}' IN SCHEMA 'public';\n"
    )
    argv = [ensure_pgloader(install=False), "--root-dir", str(target.workdir / "pgloader"), str(load)]
    done = procs.check(
        procs.run(argv, env=_offline_env(target.workdir), logdir=target.workdir), what="pgloader"
    )
    if b"ERROR" in done.stdout or b"FATAL" in done.stdout:
        line = next(
            ln for ln in done.stdout.decode(errors="replace").splitlines() if "ERROR" in ln or "FATAL" in ln
        )
        raise RuntimeError(f"pgloader reported: {line.strip()}")


def _singer_config(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    return {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "user": parts.username,
        "password": _PASSWORD,
        "database": parts.path.lstrip("/"),
    }


def _select(catalog: dict[str, object], stream_id: str) -> dict[str, object]:
    """Streams are deselected by default: select exactly ``stream_id``."""
    streams = catalog["streams"]
    assert isinstance(streams, list)
    if not any(s["tap_stream_id"] == stream_id for s in streams):
        raise RuntimeError(f"tap-postgres discovered no stream {stream_id!r}")
    for stream in streams:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == stream_id
    return catalog


def singer_copy(target: Target) -> None:
    """MeltanoLabs ``tap-postgres --catalog | target-postgres`` into schema ``singer``."""
    bin_dir = VENVS_DIR / "singer" / "bin"
    work, env = target.workdir, _offline_env(target.workdir)
    tap, tgt, catalog = work / "tap.json", work / "target.json", work / "catalog.json"
    tap.write_text(json.dumps({**_singer_config(target.src_url), "filter_schemas": ["public"]}))
    tgt.write_text(
        json.dumps(
            {
                **_singer_config(target.dst_url),
                "default_target_schema": SINGER_SCHEMA,
                "add_record_metadata": False,
                "activate_version": False,
            }
        )
    )
    found = procs.check(
        procs.run([str(bin_dir / "tap-postgres"), "--config", str(tap), "--discover"], env=env, logdir=work),
        what="tap-postgres --discover",
    )
    catalog.write_text(json.dumps(_select(json.loads(found.stdout), f"public-{target.table}")))
    reader = procs.spawn(
        [str(bin_dir / "tap-postgres"), "--config", str(tap), "--catalog", str(catalog)],
        env=env,
        stdout=-1,
        logdir=work,
    )
    assert reader.stdout is not None
    writer = procs.spawn(
        [str(bin_dir / "target-postgres"), "--config", str(tgt)], env=env, stdin=reader.stdout, logdir=work
    )
    reader.stdout.close()
    procs.check(procs.reap(writer), what="target-postgres")
    procs.check(procs.reap(reader), what="tap-postgres")

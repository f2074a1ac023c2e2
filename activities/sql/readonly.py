"""Layer 1 of the read-only defence: refuse any SQL text that is not a single pure read.

The parser is the first of three layers (then the read-only transaction, then the database
user's privileges), so it refuses on doubt: unparsable text, unknown statement kinds, locking
clauses and functions with side effects all fail closed.
"""

from __future__ import annotations

import re
import unicodedata

import sqlglot
from sqlglot import exp

from activities.errors import ReadOnlyViolationError

__all__ = ["MAX_SQL_CHARS", "check_read_only"]

MAX_SQL_CHARS = 100_000
_DIALECTS = {"postgresql": "postgres", "postgres": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
_READ_ROOTS = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery, exp.Paren)
_WRITE_NODES = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.TruncateTable,
    exp.Command, exp.Into, exp.Lock, exp.Set, exp.Transaction, exp.Commit, exp.Rollback, exp.Copy,
    exp.Use, exp.Pragma, exp.LoadData, exp.Cache, exp.Uncache, exp.Refresh, exp.Analyze,
)  # fmt: skip
_DENY_FUNCTIONS = frozenset(
    {
        "nextval", "setval", "pg_sleep", "pg_sleep_for", "pg_sleep_until", "pg_terminate_backend",
        "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "txid_current", "pg_current_xact_id",
        "pg_notify", "set_config", "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file",
        "pg_switch_wal", "pg_create_restore_point", "pg_logical_emit_message", "pg_promote",
        "query_to_xml", "query_to_json", "table_to_xml", "cursor_to_xml", "dblink", "sleep", "benchmark",
        "get_lock", "release_lock", "release_all_locks", "is_free_lock", "load_file", "master_pos_wait",
        "master_gtid_wait", "sys_exec", "sys_eval", "load_extension", "writefile", "readfile", "edit",
        "fts3_tokenizer",
    }
)  # fmt: skip
_DENY_PREFIXES = ("pg_advisory", "pg_try_advisory", "lo_", "dblink", "pg_ls_", "pg_read_", "pg_file_")
_ALLOWED_CONTROL = {"\t", "\n", "\r", " "}


def _refuse(reason: str) -> ReadOnlyViolationError:
    return ReadOnlyViolationError(f"query refused by the read-only gate: {reason}", reason=reason)


# U&"..." / U&'...' spell names with escapes the parser does not decode (it reads them as U & "..."),
# so a deny-listed function could hide behind one; refused wherever it appears, even inside a literal
_UNICODE_ESCAPE = re.compile(r"(?i)\bU&[\"']")


def _check_text(sql: str) -> None:
    if len(sql) > MAX_SQL_CHARS:
        raise _refuse(f"statement longer than {MAX_SQL_CHARS} characters")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse("text is not valid UTF-8") from None
    for char in sql:
        if char in _ALLOWED_CONTROL:
            continue
        # control, format (zero-width) and separator characters hide statement boundaries from readers
        if char == "\x00" or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cn"):
            raise _refuse(f"character U+{ord(char):04X} is not allowed")
    if _UNICODE_ESCAPE.search(sql):
        raise _refuse("Unicode-escaped names (U&) are not allowed")


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return str(node.sql_name()).lower()


def _check_tree(tree: exp.Expr) -> None:
    if not isinstance(tree, _READ_ROOTS):
        raise _refuse(f"{tree.key.upper()} is not a read; only SELECT, UNION, VALUES and WITH are allowed")
    for node in tree.walk():
        if isinstance(node, _WRITE_NODES):
            raise _refuse(f"{node.key.upper()} inside the query is not read-only")
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in _DENY_FUNCTIONS or name.startswith(_DENY_PREFIXES):
                raise _refuse(f"function {name}() has side effects")
        if isinstance(node, exp.Select) and node.args.get("into"):
            raise _refuse("SELECT INTO writes a table")


def check_read_only(sql: str, *, dialect: str) -> None:
    """Refuse ``sql`` unless it is exactly one statement that only reads.

    Args:
        sql: User SQL for an extract.
        dialect: ``postgresql``, ``mysql`` or ``sqlite``; the grammar the statement is parsed with.

    Raises:
        ReadOnlyViolationError: With the reason, for anything that is or may be a write.
    """
    if dialect not in _DIALECTS:
        raise _refuse(f"unknown dialect {dialect!r}")
    _check_text(sql)
    try:
        trees = [t for t in sqlglot.parse(sql, read=_DIALECTS[dialect]) if t is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise _refuse(f"statement does not parse ({type(exc).__name__})") from None
    if len(trees) != 1:
        raise _refuse(f"expected exactly one statement, found {len(trees)}")
    _check_tree(trees[0])

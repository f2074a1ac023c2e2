"""Run actions when a tenant session's transaction commits or rolls back.

A store outside the metadata database (Vault) cannot join its transaction, so it follows the
outcome instead: a secret written for a row is removed again if the row's transaction rolls
back, and a secret is only deleted once the row that referenced it is gone for good.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from activities.errors import VscError
from activities.metadata import TenantSession

log = logging.getLogger(__name__)

Action = Callable[[], None]
_ON_COMMIT = "vsc_on_commit"
_ON_ROLLBACK = "vsc_on_rollback"


def on_commit(session: Session, action: Action) -> None:
    """Run ``action`` after the session's current transaction commits (never if it rolls back)."""
    session.info.setdefault(_ON_COMMIT, []).append(action)


def on_rollback(session: Session, action: Action) -> None:
    """Run ``action`` if the session's current transaction ends without committing."""
    session.info.setdefault(_ON_ROLLBACK, []).append(action)


def _run(actions: list[Action], when: str) -> None:
    for action in actions:
        try:
            action()
        except VscError as exc:
            # The database outcome is already final; a store that cannot follow it leaves an
            # orphaned secret (never a missing one), which the log names for the operator.
            log.error("secret store action after %s failed: %s", when, exc.message)


@event.listens_for(TenantSession, "after_commit")
def _committed(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint was released; the outermost transaction may still roll back
    session.info.pop(_ON_ROLLBACK, None)
    _run(session.info.pop(_ON_COMMIT, []), "commit")


@event.listens_for(TenantSession, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction, *_: Any) -> None:
    if transaction.parent is not None:
        return  # a savepoint; the outcome is decided by the outermost transaction
    # after_commit already took both lists when the transaction committed.
    session.info.pop(_ON_COMMIT, None)
    _run(session.info.pop(_ON_ROLLBACK, []), "rollback")

"""The console API as the ``vsc`` CLI sees it: one authenticated HTTP client and one error type.

The CLI holds no business logic of its own for API resources: every command is one request
here, so what the CLI can do and what the API allows are the same thing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from activities.errors import VscError

KEY_FILE = "api-key"
"""Under the CLI home: the key ``vsc login`` (or ``vsc up``, for the demo tenant) saved."""


class ConsoleApiError(VscError):
    """The API refused a request (problem+json) or could not be reached.

    Args:
        message: What went wrong, with the API's ``detail``.
        status: HTTP status, or 0 when the API did not answer.
    """

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message, status=status)
        self.status = status


def _problem_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    detail = body.get("detail") or body.get("title") or ""
    fields = [
        f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg', '')}"
        for e in body.get("errors", [])
        if isinstance(e, dict)
    ]
    message = f"HTTP {response.status_code}: {detail}"
    return f"{message} ({'; '.join(fields)})" if fields else message


def save_key(home: Path, key: str) -> Path:
    """Write ``key`` to the CLI home, readable by its owner only, replacing any earlier key."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / KEY_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    tmp.replace(path)
    return path


def load_key(home: Path) -> str | None:
    """The key saved under ``home``, if any."""
    path = home / KEY_FILE
    return path.read_text().strip() or None if path.exists() else None


class ConsoleClient:
    """Synchronous client of the console REST API.

    Args:
        base_url: Where the API listens, e.g. ``http://127.0.0.1:8000``.
        key: The API key sent as ``Authorization: Bearer``.
        timeout: Seconds per request.
    """

    def __init__(self, *, base_url: str, key: str | None, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._base_url = base_url
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def __enter__(self) -> ConsoleClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Send one request and return its JSON body.

        Raises:
            ConsoleApiError: The API answered with an error (its ``detail`` is in the message) or
                could not be reached.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=json, params=query)
        except httpx.TransportError as exc:
            raise ConsoleApiError(
                f"the console API at {self._base_url} did not answer ({type(exc).__name__}); "
                "is it running (`vsc up`, or VSC_API_URL)?"
            ) from None
        if response.status_code >= 400:
            raise ConsoleApiError(_problem_message(response), status=response.status_code)
        return None if response.status_code == 204 or not response.content else response.json()

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` with query ``params`` (``None`` values are left out)."""
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        """POST ``body`` as JSON to ``path``."""
        return self.request("POST", path, json=body)

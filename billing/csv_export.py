"""What every CSV download shares: cells a spreadsheet will not run, and a safe attachment header."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_FILENAME = re.compile(r'[^A-Za-z0-9._-]+')


def safe_cell(value: Any) -> Any:
    """A CSV cell value. Run ids, tenant and model names come from clients: text that a
    spreadsheet would run as a formula is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


def attachment_headers(filename: str) -> dict[str, str]:
    """Content-Disposition for a download: an ASCII name for old clients, the exact one (RFC 6266
    filename*, UTF-8) for the rest. Header values must be latin-1, so names like 東京 need both."""
    ascii_name = _UNSAFE_FILENAME.sub("-", filename).strip("-") or "download"
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"}

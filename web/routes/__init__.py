"""The admin pages. Each module has a `router` and, when it belongs in the menu, a `NAV` item.

A new page (batch jobs, for one) is a module here plus one entry in `page_modules`.
"""

from __future__ import annotations

from types import ModuleType

from web.routes import batches, budgets, invoices, keys, overview, runs, signin, tenants, usage


def page_modules() -> list[ModuleType]:
    """In menu order."""
    return [signin, overview, usage, runs, batches, budgets, invoices, tenants, keys]

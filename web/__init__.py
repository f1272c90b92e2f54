"""Tokenmill's admin web UI: server-rendered pages under /admin, mounted on the gateway's app."""

from web.app import mount

__all__ = ["mount"]

"""The HTTP service and web pages (``leaktrace serve``): see :mod:`leaktrace.server.app`."""

from leaktrace.server.app import create_app

__all__ = ["create_app"]

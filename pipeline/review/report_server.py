"""Serve a run directory's report over HTTP on this machine (`curate report serve RUN_DIR`).

A Prefect UI cannot open a `file://` link, and the page should not be uploaded to a third
party: this is the standard library's static file server (`http.server`), bound to 127.0.0.1
only, serving the run directory read-only (GET and HEAD), so report.html and the files it sits
next to (report.md, manifest.json, contamination/) open at http://127.0.0.1:PORT/.
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # one line per request would bury the URL the command printed


def report_server(run_dir: str | Path, port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    """A server for `run_dir` on 127.0.0.1:`port` (0: any free port); call serve_forever() on it."""
    handler = functools.partial(_QuietHandler, directory=str(Path(run_dir).resolve()))
    return ThreadingHTTPServer((HOST, port), handler)


def report_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/report.html"

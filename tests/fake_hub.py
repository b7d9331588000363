"""A local HTTP server that speaks the two hub endpoints `HfApi.dataset_info` calls (imported by test modules).

    GET /api/datasets/{repo_id}                       the default branch ("main")
    GET /api/datasets/{repo_id}/revision/{revision}   a branch, tag or commit

Each answers `{"id", "sha", ...}`, or 404 with the hub's error header and JSON for an unknown
repository or revision. `repos` maps a repository to its revisions (name -> commit sha) and may
change while the server runs; `requests` records every path asked for. Bound to 127.0.0.1 on a
free port: point HF_ENDPOINT at `url` (in a subprocess, with HF_HUB_OFFLINE=0: huggingface_hub
reads its constants at import).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

PREFIX = "/api/datasets/"


@dataclass
class FakeHub:
    url: str = ""
    repos: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """`base` with the hub at this server, online."""
        return {**base, "HF_ENDPOINT": self.url, "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"}


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            path = urlsplit(self.path).path
            hub.requests.append(path)
            if not path.startswith(PREFIX):
                return self._answer(404, {"error": "Not found"}, "EntryNotFound")
            repo_id, _, revision = path.removeprefix(PREFIX).partition("/revision/")
            revisions = hub.repos.get(repo_id)
            if revisions is None:
                return self._answer(404, {"error": "Repository not found"}, "RepoNotFound")
            sha = revisions.get(unquote(revision) or "main")
            if sha is None:
                return self._answer(404, {"error": f"Invalid rev id: {unquote(revision)}"}, "RevisionNotFound")
            self._answer(200, {"_id": "x", "id": repo_id, "sha": sha, "private": False, "siblings": []})

        def _answer(self, status: int, body: dict, error_code: str | None = None) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if error_code:
                self.send_header("X-Error-Code", error_code)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):  # keep test output quiet
            pass

    return Handler


@contextmanager
def fake_hub(repos: dict[str, dict[str, str]]) -> Iterator[FakeHub]:
    hub = FakeHub(repos=repos)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


SHA_A, SHA_B, SHA_C, SHA_G = "a" * 40, "b" * 40, "c" * 40, "9" * 40
# Three hub sources for lock tests: unpinned (with a local copy), pinned to a commit, at a branch.
HUB_SOURCES = f"""[[sources]]
name = "hubbed"
license = "mit"
hub = {{ id = "org/a" }}
local = {{ path = "data/*.jsonl" }}
fields = {{ instruction = "q", output = "a" }}

[[sources]]
name = "pinned"
license = "mit"
hub = {{ id = "org/b", revision = "{SHA_B}" }}
fields = {{ instruction = "q", output = "a" }}

[[sources]]
name = "branch"
license = "mit"
hub = {{ id = "org/c", revision = "v2" }}
fields = {{ instruction = "q", output = "a" }}
"""

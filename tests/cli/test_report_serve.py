"""`curate report serve RUN_DIR`: the run directory over HTTP on 127.0.0.1 (stdlib http.server)."""

from __future__ import annotations

import threading
import urllib.request

from report_fixture import sample_run
from typer.testing import CliRunner

from pipeline.cli.report import report_app
from pipeline.review.render import write_report
from pipeline.review.report_server import report_server, report_url


def test_the_server_serves_the_report_on_localhost_only(tmp_path):
    run = sample_run(tmp_path / "run", state_dir=tmp_path / "state")
    write_report(run)
    server = report_server(run, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = report_url(server)
        assert url.startswith("http://127.0.0.1:") and url.endswith("/report.html")
        assert server.server_address[0] == "127.0.0.1"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and b"report-data" in response.read()
        with urllib.request.urlopen(url.replace("report.html", "report.md"), timeout=10) as response:
            assert b"leak check:" in response.read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_serve_refuses_a_folder_without_a_report(tmp_path):
    result = CliRunner().invoke(report_app, ["serve", str(tmp_path)])
    assert result.exit_code == 2 and "no report.html" in result.output


def test_serve_says_when_the_port_is_taken(tmp_path):
    run = sample_run(tmp_path / "run", state_dir=tmp_path / "state")
    write_report(run)
    busy = report_server(run, port=0)
    try:
        port = busy.server_address[1]
        result = CliRunner().invoke(report_app, ["serve", str(run), "--port", str(port)])
        assert result.exit_code == 1 and f"port {port}" in result.output and "--port" in result.output
    finally:
        busy.server_close()

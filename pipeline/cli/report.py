"""`curate report`: the reviewers' page of a run.

    curate report serve RUN_DIR [--port 8765]   serve the run directory on 127.0.0.1 and print the URL

Exit codes: 0 stopped with Ctrl-C, 1 the port cannot be used, 2 not a run directory.
"""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli.common import fail
from pipeline.review.report_server import DEFAULT_PORT, report_server, report_url
from pipeline.run_dir import RunDir

report_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="The reviewers' page of a run: serve it to a browser on this machine.",
)


@report_app.callback()
def _group() -> None:
    """The reviewers' page of a run."""  # a group even with one command: `curate report serve ...`


@report_app.command()
def serve(
    run_dir: Path = typer.Argument(..., help="A run directory (holds report.html)."),
    port: int = typer.Option(DEFAULT_PORT, "--port", "-p", min=0, max=65535, help="Port on 127.0.0.1 (0: any free)."),
) -> None:
    """Serve RUN_DIR's report.html on http://127.0.0.1:PORT/ (this machine only) until Ctrl-C."""
    if not RunDir(run_dir).report_html.is_file():
        fail(f"{run_dir}: no report.html (is it a finished run directory? `curate report` needs one)", 2)
    try:
        server = report_server(run_dir, port)
    except OSError as exc:
        fail(f"port {port} on 127.0.0.1: {exc.strerror or exc}; pick another with --port", 1)
    typer.echo(f"serving {Path(run_dir).resolve()}")
    typer.echo(report_url(server), err=False)
    typer.echo("stop with Ctrl-C")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

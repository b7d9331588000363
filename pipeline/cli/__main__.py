"""`python -m pipeline.cli` runs the command line."""

from pipeline.cli.main import main

main()

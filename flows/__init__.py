"""Prefect flows that compose the library's stages; no algorithm lives here."""

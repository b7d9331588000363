"""What a step hands to the next: its stage, its files (paths), their sha256 digests and its stats.

The Prefect flow passes these between tasks (never DataFrames); a completion marker records one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class StepOutput:
    stage: str
    files: dict[str, str] = field(default_factory=dict)  # role -> path
    digests: dict[str, str] = field(default_factory=dict)  # role -> sha256
    stats: dict = field(default_factory=dict)

    def path(self, role: str) -> Path:
        return Path(self.files[role])

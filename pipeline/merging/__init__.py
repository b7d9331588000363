"""Merging: LoRA adapters into a base, and whole-model merge methods (a registry of plug-ins)."""

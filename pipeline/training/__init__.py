"""LoRA fine-tuning with the Platypus recipe."""

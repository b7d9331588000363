"""Configuration: the run config, the fine-tune config, field templates; validated once, errors as one line each."""

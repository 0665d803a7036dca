"""One module per CLI command; each has a config dataclass and a run function."""

"""The paper's experiments as runnable commands (see ``siren-fused --help``)."""

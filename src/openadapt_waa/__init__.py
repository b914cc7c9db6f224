"""openadapt.waa: turn a VM into a ready Windows Agent Arena host."""

__version__ = "0.1.0"

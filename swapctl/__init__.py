"""swapctl: swap files, vm reclaim tuning and watermarks for Linux."""

__version__ = "0.1.0"

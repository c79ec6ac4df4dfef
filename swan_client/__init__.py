"""Swan's Python client and the `swan` command line."""

__version__ = "0.1.0"

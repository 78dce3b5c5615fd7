"""chatflow: a git-native controller and runtime for messaging chat flows."""

__version__ = "0.1.0"

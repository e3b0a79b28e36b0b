"""Switch for verbose error messages (seed 003's `enable_verbose_error_messages`)."""

_verbose = False


def enable_verbose_error_messages() -> None:
    """Keep internal tracebacks as the cause of user-facing errors."""
    global _verbose
    _verbose = True


def disable_verbose_error_messages() -> None:
    global _verbose
    _verbose = False


def verbose_error_messages_enabled() -> bool:
    return _verbose

"""The one error type for bad input, which reaches the user as a single line (``multiview: error: ...``)."""


class UserError(ValueError):
    """Bad input from the user: a file, key or value, and what was expected.

    The CLI prints ``multiview: error: <message>`` and exits with status 2, no traceback. It is a
    ``ValueError``, so code that validates a value can be called from the library and caught as one.
    """

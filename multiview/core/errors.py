"""The one error type that reaches the user as a single line (``multiview: error: ...``)."""


class UserError(Exception):
    """Bad input from the user: a file, key or value, and what was expected.

    The CLI prints ``multiview: error: <message>`` and exits with status 2, no traceback.
    """

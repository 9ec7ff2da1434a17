"""The one exception type that reaches users as a one-line message (never a traceback)."""


class TsError(Exception):
    """A user-facing error: bad input, a limit exceeded, a tool that failed.

    The message must name the file, layer, op or limit concerned; the CLI prints it as one line.
    """

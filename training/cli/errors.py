"""The CLI's usage error: a bad flag or argument, reported with exit code 2 and no traceback."""


class UsageError(Exception):
    pass

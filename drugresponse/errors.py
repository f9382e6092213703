"""The one exception type a user sees as a message instead of a stack trace."""


class UserError(Exception):
    """Something the user can fix: the message says what is wrong and what to do.

    The CLI prints it as ``error: <message>`` and exits with status 2.
    """

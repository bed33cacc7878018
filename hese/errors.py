"""The one exception type for bad user input."""


class HeseInputError(ValueError):
    """Bad input: the message names the file or field, the bad value and what is allowed.

    The CLI prints the message on one line and exits with status 2.
    """

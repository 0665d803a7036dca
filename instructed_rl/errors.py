"""Errors a user can fix. The CLI prints them as one line, never as a traceback."""


class UserError(ValueError):
    """A problem with something the user gave us (a file, an id, a flag), with the fix in the message."""


class CorpusError(UserError):
    """An instruction corpus file is invalid, or lacks what a game needs."""


class GameSpecError(UserError):
    """A game spec file is invalid, or a game id / split does not exist."""

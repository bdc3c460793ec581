"""The errors tastypy raises: each says what happened, where, and what to do."""


class TastypyError(Exception):
    """Base of every error of tastypy's own."""


class IntegrityError(TastypyError):
    """A file of the store is damaged: the message names the file and line."""


class LockedError(TastypyError):
    """Another process holds the writer lock of the folder."""


class ReadOnlyError(TastypyError):
    """A mutation was tried on a store opened with ``mode='r'``."""


class DuplicateKeyError(TastypyError, KeyError):
    """``add()`` was given a key that is already present."""

    def __str__(self) -> str:
        # KeyError would repr() the message; show it as written.
        return str(self.args[0]) if self.args else ""


PersistentOrderedDictIntegrityError = IntegrityError

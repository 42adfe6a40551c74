"""The two ways a block fails to run or be checked."""


class BlockError(Exception):
    """The block cannot be run/checked; the message is the reason."""


class PerlError(Exception):
    pass

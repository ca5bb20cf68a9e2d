"""Exceptions: one class per class of the library's status codes (and the CLI's exit codes)."""

from . import _lib


class HesseError(Exception):
    """A failure reported by libhesse. `message` is the library's one-line detail (file,
    tensor or option, expected vs found), `status` the C status code (HESSE_E*), `exit_code`
    what the CLI exits with for it (docs/errors.md)."""

    status = None
    exit_code = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
            self.exit_code = _lib.lib.hesse_exit_code(status)


class InvalidArgument(HesseError, ValueError):
    """An invalid argument or option value (HESSE_EINVAL; the CLI exits 1)."""

    status, exit_code = _lib.EINVAL, 1


class BadInput(HesseError):
    """Bad input: a file, format, shape or label (HESSE_EINPUT; exit 2)."""

    status, exit_code = _lib.EINPUT, 2


class NumericalError(HesseError, ArithmeticError):
    """A non-finite value, breakdown, or no convergence where required (HESSE_ENUMERIC; exit 3)."""

    status, exit_code = _lib.ENUMERIC, 3


class ResourceError(HesseError):
    """Memory exhausted or over the budget, or reading/writing a file failed (HESSE_ENOMEM,
    HESSE_EIO; exit 4)."""

    exit_code = 4


class Interrupted(HesseError, KeyboardInterrupt):
    """Stopped by SIGINT/SIGTERM after saving a checkpoint (HESSE_EINTR; exit 130)."""

    status, exit_code = _lib.EINTR, 130


_classes = {_lib.EINVAL: InvalidArgument, _lib.EINPUT: BadInput, _lib.ENUMERIC: NumericalError,
            _lib.ENOMEM: ResourceError, _lib.EIO: ResourceError, _lib.EINTR: Interrupted}


def error(status, message=None):
    """The exception for a status, carrying the thread's last error message."""
    if message is None:
        message = _lib.lib.hesse_last_error().decode("utf-8", "replace")
    if not message:
        message = _lib.lib.hesse_strerror(status).decode()
    return _classes.get(status, HesseError)(message, status)


def check(status):
    """Raises the exception for a failing status."""
    if status != _lib.OK:
        raise error(status)

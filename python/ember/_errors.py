"""Ember's errors as Python exceptions.

Every failure of the C++ library (a malformed model, an unsupported op, a
bad option, a plugin that failed) raises one of these, carrying Ember's
message: the same text ``ember`` prints after ``error:``.
"""


class EmberError(RuntimeError):
    """An error Ember reported; ``code`` names its kind."""

    code = "error"


class InvalidError(EmberError, ValueError):
    """Malformed input: a file, IR text, an attribute, an option value."""

    code = "invalid"


class InputTypeError(InvalidError, TypeError):
    """An input of the wrong kind: an array of another dtype than the
    model's, or a value that is no array at all."""

    code = "invalid"


class UnsupportedError(EmberError):
    """Valid input Ember cannot handle: an op, a dtype, a target not built."""

    code = "unsupported"


class DataDependentError(UnsupportedError):
    """A shape depends on a value not known when the model compiles."""

    code = "data-dependent"


class EmberIOError(EmberError, OSError):
    """A file could not be read or written."""

    code = "io"


class InternalError(EmberError):
    """A broken invariant inside Ember (a bug: please report it)."""

    code = "internal"


class BackendError(EmberError):
    """A backend plugin failed, misbehaved or broke the ABI."""

    code = "backend"


class EmberTimeoutError(EmberError, TimeoutError):
    """An execution did not complete within its time limit."""

    code = "timeout"


# In the order of ember::ErrorCode (core/support/Error.h); Ok has none.
BY_CODE = [
    EmberError,
    InvalidError,
    UnsupportedError,
    DataDependentError,
    EmberIOError,
    InternalError,
    BackendError,
    EmberTimeoutError,
]

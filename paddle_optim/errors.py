"""User-facing errors.

Anything the *user* got wrong (a config key, a value out of range, a missing file) is raised as a
:class:`UserError`. The CLI prints its lines to stderr, one problem per line, and exits with code 2
without a traceback. Programming errors stay ordinary exceptions so that they keep their traceback.
"""
from typing import Iterable, List, Union

EXIT_USER_ERROR = 2
#: An error line longer than this keeps its start (the key) and end (what is allowed) around an elision:
#: a message that echoes a 15 MB value (an expanded YAML alias, a huge string) stays readable.
MAX_LINE_CHARS = 900


def bounded_line(line: str) -> str:
    """``line``, or its first and last ~240 characters around a note of how many were left out."""
    if len(line) <= MAX_LINE_CHARS:
        return line
    keep = (MAX_LINE_CHARS - 40) // 2
    return f"{line[:keep]} ...[{len(line) - 2 * keep} characters omitted]... {line[-keep:]}"


class UserError(Exception):
    """One or more problems with the user's input, each a self-contained line."""

    def __init__(self, problems: Union[str, Iterable[str]]):
        self.problems: List[str] = [bounded_line(p) for p in ([problems] if isinstance(problems, str) else problems)]
        super().__init__("\n".join(self.problems))

    @classmethod
    def combine(cls, errors: Iterable["UserError"]) -> "UserError":
        """Merge several errors into one that reports every line."""
        return cls([line for err in errors for line in err.problems])


class ConfigError(UserError):
    """A problem at one key of the configuration, reported as ``<key path>: <message>``."""

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)


def user_code_failed(key: str, what: str, err: Exception) -> ConfigError:
    """A user's callable (loss, metric) that raised on a trial batch, as one line at ``key``."""
    text = str(err).strip()
    return ConfigError(key, f"{what} failed: {type(err).__name__}: {text.splitlines()[0] if text else ''}")

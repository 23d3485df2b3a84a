"""The exception tree. Every error a user can cause is a GitopsCheckError with a message that says what to do.

Library exceptions are converted where they are caught (``raise ... from e``); only ``cli`` turns errors into
exit codes, so anything else escaping is a bug and is shown as such.
"""

from __future__ import annotations


class GitopsCheckError(Exception):
    """Base class: a problem the user can act on. ``str(e)`` is the one-line message shown to them."""

    def __init__(
        self, message: str, *, app: str | None = None, file: str | None = None, line: int | None = None
    ):
        super().__init__(message)
        self.message = message
        self.app = app
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        return f"{where}{self.message}"

    def located(
        self, *, app: str | None = None, file: str | None = None, line: int | None = None
    ) -> GitopsCheckError:
        """Fill in location details that were not known where the error was raised."""
        self.app = self.app or app
        self.file = self.file or file
        self.line = self.line or line
        return self

    def gave_up(self, attempts: int) -> GitopsCheckError:
        """This error saying (once) how many attempts a retried request made before giving up."""
        if attempts > 1 and "gave up after" not in self.message:
            self.message = f"{self.message} (gave up after {attempts} attempts)"
            self.args = (self.message,)
        return self


class ConfigError(GitopsCheckError):
    """The project file, an option or an Application/Kustomization object is wrong."""


class InputError(GitopsCheckError):
    """A manifest or snapshot file cannot be read (syntax, shape, size, aliases)."""


class SourceError(GitopsCheckError):
    """A repository or revision cannot be read."""


class RenderError(GitopsCheckError):
    """helm / kustomize / the directory reader failed for one app."""


class ToolMissingError(RenderError):
    """A required binary (helm, kustomize) is not installed."""


class ClusterError(GitopsCheckError):
    """The cluster could not be read (unreachable, forbidden, unknown kind)."""


class PublishError(GitopsCheckError):
    """A comment could not be posted to GitHub / GitLab."""


class SyncError(GitopsCheckError):
    """A sync could not be requested or did not succeed."""


class FetchError(SourceError):
    """Something outside the repository (a chart, an artifact, another Git repository) could not be fetched.

    The message names the URL with any credentials removed and the reason; the app is "not checked".
    """

"""Exceptions raised by vtwin (the native module creates them by name)."""

from __future__ import annotations

from typing import Optional


class VtwinError(RuntimeError):
    """An error of the vtwin library, with the message the CLI prints."""


class SceneError(VtwinError, ValueError):
    """A scene that cannot be used, located as the CLI locates it.

    Attributes: ``file`` (the scene's path, or the name given to
    ``Scene.from_toml``), ``line`` and ``column`` (1-based, or None when the
    key is absent from the file), ``key`` (dotted path such as
    ``grid.nx``, or None) and ``reason`` (the message without location).
    """

    def __init__(
        self,
        message: str,
        file: str = "",
        line: Optional[int] = None,
        column: Optional[int] = None,
        key: Optional[str] = None,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.reason = reason or message

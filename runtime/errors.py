"""Errors raised by the NumPy runtime; each message names the input or node at fault."""

from __future__ import annotations


class InterpreterError(Exception):
    """Base of every error the interpreter raises on purpose."""


class InputError(InterpreterError, ValueError):
    """An input fed to `Interpreter.run` is missing, unknown, or of the wrong shape or dtype."""


class UnsupportedOpError(InterpreterError, NotImplementedError):
    """The function holds an op that has no kernel."""


class KernelError(InterpreterError, RuntimeError):
    """A kernel failed, or produced a result that disagrees with the IR's result type."""

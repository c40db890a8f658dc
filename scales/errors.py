"""Errors raised by the scale package. Each message says what is wrong and how to fix it,
so that the CLI and the pages can show it as it is, never as a traceback."""


class ScaleError(Exception):
    """Base class for every error the scale package raises on purpose."""


class DefinitionError(ScaleError):
    """A scale definition file breaks the schema or a cross-field rule.

    The message names the file, the JSON path and the rule broken.
    """

    def __init__(self, file: str, path: str, rule: str, message: str):
        self.file, self.path, self.rule = file, path, rule
        super().__init__(f"{file}: at {path}: {message} [rule: {rule}]")


class UnknownScaleError(ScaleError):
    """A scale id that no loaded definition carries."""


class ResponseError(ScaleError):
    """Responses that cannot be scored: unknown item, value outside the options, two
    alternatives of one choice group answered."""

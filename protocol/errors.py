"""Errors raised by the protocol package. Each message says what is wrong and how to fix it,
so that the CLI and the pages can show it as it is, never as a traceback."""


class ProtocolError(Exception):
    """A study protocol file breaks the schema or a cross-field rule.

    The message names the file, the JSON path and the rule broken, like
    scales.DefinitionError for scale definitions.
    """

    def __init__(self, file: str, path: str, rule: str, message: str):
        self.file, self.path, self.rule = file, path, rule
        super().__init__(f"{file}: at {path}: {message} [rule: {rule}]")


class ProtocolInputError(ValueError):
    """Input that a protocol function cannot accept (a weight, a vital sign, a screening answer,
    an infusion time). Subclasses say which kind; the message says what is allowed."""


class DoseError(ProtocolInputError):
    """A weight, dose per kilogram or duration outside the protocol's range, or not a number."""


class VitalsError(ProtocolInputError):
    """A vital-sign reading that is not a number or is not physiologically possible."""


class EligibilityError(ProtocolInputError):
    """A screening answer of the wrong kind, or for a criterion the protocol does not have."""


class ScheduleError(ProtocolInputError):
    """Infusion or assessment times that cannot be scheduled (naive datetimes, repeated or
    out-of-order infusion numbers)."""

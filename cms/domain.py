"""The base of every error a service raises when one of its rules refuses; its message is for the user."""


class DomainError(ValueError):
    """A change the rules refuse. `str(exc)` is the (translated) message to show: a form error in the console,
    a flash, a 400 in the API, a ClickException in the CLI."""

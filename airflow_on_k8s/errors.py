"""The project's error type for configuration that must stop the program."""


class ConfigError(Exception):
    """A stack configuration value that the program refuses, reported as a single line."""

    def __init__(self, key: str, value: object, allowed: str, *, secret: bool = False) -> None:
        self.key = key
        self.value = "[secret]" if secret else value
        self.allowed = allowed
        shown = self.value if secret else repr(value)
        super().__init__(f"config {key} = {shown} is invalid: {allowed}")

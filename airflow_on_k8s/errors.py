"""The project's error type for configuration that must stop the program."""

# An error quotes this many characters of a value at most: a 300 MB value must not become a 300 MB
# line, and the start of a value is enough to recognise it.
MAX_QUOTED_CHARACTERS = 200
_MAX_KEY_CHARACTERS = 120
_MAX_ALLOWED_CHARACTERS = 600


def quoted(value: object, limit: int = MAX_QUOTED_CHARACTERS) -> str:
    """repr() of `value` cut to about `limit` characters, saying how long the whole was."""
    if not isinstance(value, str):
        value = repr(value)
        if len(value) <= limit:
            return value
        return f"{value[:limit]}… ({len(value):,} characters)"
    text = repr(value[:limit])
    if len(text) > limit + 40:  # escapes (\x00, \U0001f600) can make the repr longer than the value
        text = text[:limit] + "…'"
    if len(value) > limit:
        text += f"… ({len(value):,} characters)"
    return text


def printable(text: str, limit: int) -> str:
    """`text` on one line: characters that are not printable are escaped, the rest cut at `limit`."""
    cut = text[:limit]
    if not cut.isprintable():
        cut = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in cut)
    return cut + ("…" if len(text) > limit else "")


class ConfigError(Exception):
    """A stack configuration value that the program refuses, reported as a single line."""

    def __init__(self, key: str, value: object, allowed: str, *, secret: bool = False) -> None:
        self.key = key
        self.value = "[secret]" if secret else value
        self.allowed = allowed
        shown = "[secret]" if secret else quoted(value)
        super().__init__(f"config {printable(key, _MAX_KEY_CHARACTERS)} = {shown} is invalid: "
                         f"{printable(allowed, _MAX_ALLOWED_CHARACTERS)}")

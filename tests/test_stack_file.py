"""tools/stack_file.py reads a stack file the way the Pulumi CLI (gopkg.in/yaml.v3 and pulumi's
config package) does, and turns whatever it cannot read into one line with file:line:column."""

import pytest

from tools.stack_file import (
    MAX_DEPTH,
    ConfigEntry,
    Encrypted,
    StackFileError,
    config_text,
    pulumi_type_problem,
    read_stack_config,
)

FILE = "Pulumi.dev.yaml"
PROJECT = "airflow-on-k8s"


def entries(text: str) -> list[ConfigEntry]:
    return read_stack_config(text.encode(), FILE, PROJECT)


def reading(value_source: str) -> object:
    (entry,) = entries(f"config:\n  ns:key: {value_source}\n")
    return entry.value


def error_of(text: str | bytes) -> str:
    with pytest.raises(StackFileError) as caught:
        read_stack_config(text.encode() if isinstance(text, str) else text, FILE, PROJECT)
    message = str(caught.value)
    assert "\n" not in message
    return message


# (YAML source of a value, the text the CLI hands the program), from yaml.v3's resolve.go and
# pulumi's config/object.go MarshalString (Go's encoding/json for numbers and structures).
READINGS = [
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("Yes", "Yes"),
    ("true", "true"), ("True", "true"), ("FALSE", "false"),
    ("016", "14"), ("019", "19"), ("08", "8"), ("0x1F", "31"), ("0o17", "15"), ("0b101", "5"),
    ("1_000", "1000"), ("+5", "5"), ("-0", "0"),
    ("1.0", "1"), ("1.50", "1.5"), ("1e3", "1000"), ("1e21", "1e+21"), ("0.0000001", "1e-7"), (".5", "0.5"),
    ("1e999", "1e999"), ("18446744073709551615", "18446744073709551615"),
    ("18446744073709551616", "18446744073709552000"),
    ("2024-01-05", "2024-01-05 00:00:00 +0000 UTC"),
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.1 -0500 -0500"),
    ("2001-12-14 21:59:43.10", "2001-12-14 21:59:43.1 +0000 UTC"),
    ("2024-02-30", "2024-02-30"),  # not a date: stays text
    ('"016"', "016"), ("'yes'", "yes"), ("!!str 016", "016"), ('!!int "12"', "12"), ("!!float 1", "1"),
    ("! 12", "12"), ("!!binary aGk=", "hi"),
    ("[1, x, {b: 2, a: '<&>'}]", '[1,"x",{"a":"\\u003c\\u0026\\u003e","b":2}]'),
    ("{secure: 123}", '{"secure":123}'),
]


@pytest.mark.parametrize(("source", "text"), READINGS)
def test_values_read_as_the_cli_reads_them(source: str, text: str) -> None:
    assert config_text(reading(source)) == text


@pytest.mark.parametrize("source", ["~", "null", "NULL", ""])
def test_null_is_none(source: str) -> None:
    assert reading(source) is None


def test_secure_values_are_encrypted_and_keys_are_namespaced_as_the_cli_does() -> None:
    read = entries("config:\n  namespace: team-a\n  other:config:key: 1\n  kubernetes:context: aks\n"
                   "  airflow-on-k8s:metadataConnection:\n    secure: AAABAKz\n")
    assert [(entry.key, entry.value) for entry in read] == [
        ("airflow-on-k8s:namespace", "team-a"), ("other:key", 1), ("kubernetes:context", "aks"),
        ("airflow-on-k8s:metadataConnection", Encrypted("AAABAKz"))]
    assert [str(entry.position) for entry in read] == [f"{FILE}:2:3", f"{FILE}:3:3", f"{FILE}:4:3", f"{FILE}:5:3"]


def test_merge_keys_anchors_and_a_byte_order_mark() -> None:
    text = "\ufeffbase: &base\n  ns:a: 1\nconfig:\n  <<: *base\n  ns:b: &v [x]\n  ns:c: *v\n"
    assert [(entry.key, entry.value) for entry in entries(text)] == [("ns:b", ["x"]), ("ns:c", ["x"]), ("ns:a", 1)]


@pytest.mark.parametrize(("text", "expected"), [
    ('config:\n  airflow-on-k8s:kubeContext: "aks\n', f"{FILE}:3:1: found unexpected end of stream "
                                                       "(while scanning a quoted scalar at line 2, column 31)"),
    ("config:\n  ns:a: *nowhere\n", f"{FILE}:2:9: found undefined alias 'nowhere'"),
    ("config:\n  ns:a: &loop [1, *loop]\n", f"{FILE}:2:9: an anchor's value contains an alias of itself"),
    ("config:\n  ns:a: 1\n  ns:a: 2\n", f'{FILE}:3:3: mapping key "ns:a" already defined at line 2'),
    ("config:\n  a: 1\n  airflow-on-k8s:a: 2\n", f"{FILE}:3:3: airflow-on-k8s:a is set twice"),
    ("config:\n  a:b:c: 1\n", f'{FILE}:2:3: could not parse "a:b:c" as a configuration key'),
    ("config:\n  1: x\n", f"{FILE}:2:3: mapping keys must be strings"),
    ("config:\n  ns:a: {true: x}\n", f"{FILE}:2:10: mapping keys must be strings"),
    ("config:\n  ns:a: !!int abc\n", f"{FILE}:2:9: cannot decode !!str `abc` as a !!int"),
    ("config:\n  ns:a: !!binary '%%'\n", f"{FILE}:2:9: !!binary value contains invalid base64 data"),
    ("config:\n  ns:a: 'nul \x00'\n", f"{FILE}:2:14: special characters are not allowed (character U+0000)"),
    ("config:\n\tns:a: 1\n", f"{FILE}:2:1: found character '\\t' that cannot start any token"),
    ("confg:\n  ns:a: 1\n", f'{FILE}:1:1: unknown stack file key "confg"; did you mean config?'),
    ("config: [a, b]\n", f"{FILE}:1:9: config is a mapping of keys to values"),
    ("just text\n", f"{FILE}:1:1: a stack file is a mapping"),
    ("config:\n  ns:a: .inf\n", f"{FILE}:2:9: ns:a holds NaN or infinity, which Pulumi cannot store"),
    ("config:\n  ns:a: [1, .nan]\n", f"{FILE}:2:9: ns:a holds NaN or infinity"),
    ("config:\n  ns:a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n",
     f"values nest deeper than {MAX_DEPTH}"),
])
def test_unreadable_files_give_one_line_with_file_line_and_column(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_alias_bombs_are_refused_before_they_expand() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in "bcdefg":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]")
    assert "excessive aliasing" in error_of("\n".join(lines) + "\nconfig: {}\n")


def test_invalid_utf8_and_oversized_files_are_one_line() -> None:
    assert error_of(b"config:\n  ns:a: \xff\n") == f"{FILE}:2:9: not UTF-8 text (byte 0xff)"
    assert "is more than a stack file may hold" in error_of("config:\n  ns:a: " + "x" * 3_000_000 + "\n")


def test_empty_files_hold_no_config() -> None:
    for text in ("", "# nothing\n", "~\n", "config:\n", "secretsprovider: passphrase\n"):
        assert entries(text) == []


def test_written_text_is_kept_where_yaml_changed_what_a_number_says() -> None:
    surprises = {source: entry.reading_surprise() for source in ("016", "0x10", "2024-01-05", "1.0", "True", "16")
                 for entry in entries(f"config:\n  ns:a: {source}\n")}
    assert surprises == {"016": "an octal number (a leading 0)", "0x10": "a hexadecimal number",
                         "2024-01-05": "a date", "1.0": None, "True": None, "16": None}


@pytest.mark.parametrize(("config_type", "value", "refused"), [
    ("string", "x", False), ("string", 1, False), ("string", ["x"], True), ("string", {"a": "b"}, True),
    ("integer", 3, False), ("integer", "3", False), ("integer", 1.0, False), ("integer", 1.5, True),
    ("integer", "two", True), ("integer", True, True), ("integer", 2**63, True),
    ("boolean", True, False), ("boolean", "true", False), ("boolean", "True", True), ("boolean", "yes", True),
    ("array", ["a", "b"], False), ("array", [], False), ("array", ["a", 1], True), ("array", "a", True),
    ("array", [None], True), ("string", Encrypted("x"), False),
])
def test_declared_types_are_checked_as_pulumi_does(config_type: str, value: object, refused: bool) -> None:
    assert (pulumi_type_problem(config_type, value) is not None) == refused

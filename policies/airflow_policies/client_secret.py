"""Where a Python config (webserver_config.py) gives the OIDC client secret a literal, read with `ast`.

A sink is anything named client_secret (or *_client_secret, any case) that a value reaches: a dict
key, a keyword argument, the argument after a "client_secret" string (setattr, setdefault), a
parameter default, or an assignment to such a name, attribute or subscript.

A value carries a literal when a string (or bytes) literal, an f-string, or a name bound to one
flows into it: directly, through an operator, a conditional, a container, or as an argument or
receiver of a call (base64.b64decode("...") is a literal too). The accepted sources are environment
reads: os.environ[...], os.environ.get(...), os.getenv(...) (environ and getenv imported from os
too), and methods called on what they return (.strip()); their key names a variable and is not
the secret, but a default passed to them is checked like any other value. Reading a client_secret
key or attribute back (settings["client_secret"]) carries nothing: its value was checked where it
was stored.
"""

import ast
from collections.abc import Iterator
from dataclasses import dataclass

SECRET_NAME = "client_secret"
_BINDINGS = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.For, ast.AsyncFor, ast.comprehension)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


@dataclass(frozen=True, order=True)
class InlineSecret:
    line: int
    sink: str  # how the value reaches the client secret, e.g. "the key 'client_secret'"


@dataclass(frozen=True)
class _Flow:
    """One value that reaches a name, a client-secret sink, or both."""

    value: ast.expr
    line: int
    name: str | None = None
    sink: str | None = None


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered == SECRET_NAME or lowered.endswith("_" + SECRET_NAME)


def _secret_string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and is_secret_name(node.value):
        return node.value
    return None


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_environ(node: ast.expr) -> bool:
    return (_is_name(node, "environ")
            or (isinstance(node, ast.Attribute) and node.attr == "environ" and _is_name(node.value, "os")))


def _is_lookup(function: ast.expr) -> bool:
    """os.environ.get, environ.get, os.getenv or getenv."""
    if isinstance(function, ast.Attribute):
        return ((function.attr == "get" and _is_environ(function.value))
                or (function.attr == "getenv" and _is_name(function.value, "os")))
    return _is_name(function, "getenv")


def _environment_fallbacks(node: ast.expr) -> list[ast.expr] | None:
    """The defaults an environment read falls back to ([] for none); None if `node` reads no environment."""
    if isinstance(node, ast.Subscript):
        return [] if _is_environ(node.value) else None
    if isinstance(node, ast.Call):
        if _is_lookup(node.func):
            return [*node.args[1:], *(keyword.value for keyword in node.keywords if keyword.arg != "key")]
        if isinstance(node.func, ast.Attribute):
            # A method of the value read (.strip(), .encode("utf-8")): its arguments are not the secret.
            return _environment_fallbacks(node.func.value)
    return None


def carries_literal(node: ast.AST, literal_names: set[str]) -> bool:
    if isinstance(node, ast.expr):
        fallbacks = _environment_fallbacks(node)
        if fallbacks is not None:
            return any(carries_literal(fallback, literal_names) for fallback in fallbacks)
    match node:
        case ast.Constant(value=value):
            return isinstance(value, str | bytes)
        case ast.JoinedStr():
            return True
        case ast.Name(id=name):
            return name in literal_names
        case ast.Compare():
            return False  # a bool, whatever it compares
        case ast.IfExp(body=body, orelse=orelse):
            return carries_literal(body, literal_names) or carries_literal(orelse, literal_names)
        case ast.Subscript(value=container, slice=key):
            return _secret_string(key) is None and carries_literal(container, literal_names)
        case ast.Attribute(value=owner, attr=attribute):
            return not is_secret_name(attribute) and carries_literal(owner, literal_names)
    return any(carries_literal(child, literal_names) for child in ast.iter_child_nodes(node))


def _target_sink(target: ast.expr) -> str | None:
    match target:
        case ast.Name(id=name) if is_secret_name(name):
            return f"the name {name}"
        case ast.Attribute(attr=attribute) if is_secret_name(attribute):
            return f"the attribute .{attribute}"
        case ast.Subscript(slice=key) if (secret_key := _secret_string(key)) is not None:
            return f"the subscript [{secret_key!r}]"
    return None


def _pairs(target: ast.expr, value: ast.expr) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(single target, the value it gets) of an assignment, unpacking `a, b = x, y` element-wise."""
    if isinstance(target, ast.Starred):
        yield from _pairs(target.value, value)
    elif isinstance(target, ast.Tuple | ast.List):
        values = value.elts if isinstance(value, ast.Tuple | ast.List) else []
        matched = (len(values) == len(target.elts)
                   and not any(isinstance(element, ast.Starred) for element in [*target.elts, *values]))
        for index, element in enumerate(target.elts):
            yield from _pairs(element, values[index] if matched else value)
    else:
        yield target, value


def _binding_flows(node: ast.AST) -> Iterator[_Flow]:
    match node:
        case ast.Assign(targets=targets, value=value):
            pairs = [pair for target in targets for pair in _pairs(target, value)]
        case ast.AnnAssign(target=target, value=value) if value is not None:
            pairs = list(_pairs(target, value))
        case ast.AugAssign(target=target, value=value) | ast.NamedExpr(target=target, value=value):
            pairs = list(_pairs(target, value))
        case ast.For(target=target, iter=value) | ast.AsyncFor(target=target, iter=value):
            pairs = list(_pairs(target, value))
        case ast.comprehension(target=target, iter=value):
            pairs = list(_pairs(target, value))
        case _:
            pairs = []
    for target, value in pairs:
        yield _Flow(value, value.lineno, target.id if isinstance(target, ast.Name) else None, _target_sink(target))


def _parameter_flows(arguments: ast.arguments) -> Iterator[_Flow]:
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[tuple[ast.arg, ast.expr | None]] = [
        *zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults, strict=True),
        *zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)]
    for parameter, default in defaults:
        if default is not None:
            sink = f"the parameter {parameter.arg}" if is_secret_name(parameter.arg) else None
            yield _Flow(default, default.lineno, parameter.arg, sink)


def _call_flows(call: ast.Call) -> Iterator[_Flow]:
    for keyword in call.keywords:
        if keyword.arg is not None and is_secret_name(keyword.arg):
            yield _Flow(keyword.value, keyword.value.lineno, sink=f"the keyword {keyword.arg}=")
    for argument, following in zip(call.args, call.args[1:], strict=False):
        if (name := _secret_string(argument)) is not None:
            yield _Flow(following, following.lineno, sink=f"the argument after {name!r}")


def _flows(tree: ast.AST) -> Iterator[_Flow]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (name := _secret_string(key)) is not None:
                    yield _Flow(value, value.lineno, sink=f"the key {name!r}")
        elif isinstance(node, ast.Call):
            yield from _call_flows(node)
        elif isinstance(node, _FUNCTIONS):
            yield from _parameter_flows(node.args)
        elif isinstance(node, _BINDINGS):
            yield from _binding_flows(node)


def literal_client_secrets(source: str) -> list[InlineSecret]:
    """Every place where a literal reaches a client-secret sink in `source`.

    Raises SyntaxError or ValueError when `source` is not Python, RecursionError when it nests too deep.
    """
    flows = list(_flows(ast.parse(source)))
    # Names bound to a literal, through any chain of names (A = "x"; B = A): grow until nothing changes.
    literal_names: set[str] = set()
    grown = True
    while grown:
        grown = False
        for flow in flows:
            if flow.name and flow.name not in literal_names and carries_literal(flow.value, literal_names):
                literal_names.add(flow.name)
                grown = True
    return sorted({InlineSecret(flow.line, flow.sink) for flow in flows
                   if flow.sink and carries_literal(flow.value, literal_names)})

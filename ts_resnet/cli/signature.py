"""Command-line parsers built from typed Python functions (jsonargparse).

Each of ``classify``, ``export`` and ``explain`` is a plain function whose signature *is* the command:
its parameters, types, defaults and docstring become the options, their validation and ``--help``,
and the same function can be called from Python. jsonargparse checks every value against its type
(``Optional[float]``, ``Literal[...]``) with a specific error; what this module adds are the
conventions of a shell command that jsonargparse's own function parsers do not offer:

* parameters without a default before the ``*`` are positional (a ``list[...]`` one takes 1+ values);
* ``bool`` parameters that default to False are flags (``--force``, not ``--force true``);
* keyword parameters that take a list (``str | list[str]``) are repeated options (``-m a -m b``);
* option names use dashes (``--batch-size``) and also accept underscores (``--batch_size``);
* aliases (``-m``, ``-o``, ``-q``, ``--class``) and mutually exclusive groups are given by the caller.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal


def _choices(hint: Any) -> tuple[Any, ...] | None:
    """The values of ``Literal[...]`` or ``Optional[Literal[...]]``, else None."""
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if len(args) == 1 and typing.get_origin(args[0]) is Literal:
        return typing.get_args(args[0])
    return None


def _list_item(hint: Any) -> Any:
    """``X`` for ``list[X]`` or a union with a ``list[X]`` arm (``str | list[str]``), else None."""
    arms = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for arm in arms:
        if typing.get_origin(arm) is list:
            return typing.get_args(arm)[0]
    return None


def _docs(func: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    from docstring_parser import parse  # installed with jsonargparse[signatures]

    doc = parse(inspect.getdoc(func) or "")
    description = "\n\n".join(p for p in (doc.short_description, doc.long_description) if p)
    return description, {p.arg_name: (p.description or "").replace("\n", " ") for p in doc.params}


def parser_for(func: Callable[..., Any], *, prog: str, aliases: dict[str, str] | None = None,
               epilog: str | None = None) -> Any:
    """A ``jsonargparse.ArgumentParser`` whose arguments are ``func``'s parameters.

    Args:
        func: the command; its docstring's first paragraphs are the description and its ``Args:``
            section the help of each option.
        prog: the program name shown in usage lines.
        aliases: parameter name -> another option string, e.g. ``{"checkpoint": "-m"}``.
        epilog: text after the options in ``--help``.
    """
    from jsonargparse import ArgumentParser

    aliases = aliases or {}
    description, helps = _docs(func)
    hints = typing.get_type_hints(func)
    # jsonargparse's default help formatter shows each option's type and default
    parser = ArgumentParser(prog=prog, description=description, epilog=epilog)
    for name, param in inspect.signature(func).parameters.items():
        hint = hints.get(name, str)
        kwargs: dict[str, Any] = {"help": helps.get(name, "")}
        if param.kind is param.POSITIONAL_OR_KEYWORD and param.default is param.empty:
            if typing.get_origin(hint) is list:
                kwargs.update(nargs="+", type=typing.get_args(hint)[0])
            else:
                kwargs.update(type=hint)
            parser.add_argument(name, metavar=name.upper().rstrip("S") if "nargs" in kwargs else name.upper(),
                                **kwargs)
            continue
        flags = [aliases[name]] if name in aliases else []
        flags.append("--" + name.replace("_", "-"))
        if "_" in name:
            flags.append("--" + name)
        if hint is bool and param.default is False:
            kwargs.update(action="store_true")
        elif _list_item(hint) is not None:  # one value per use of the option, collected into a list
            # (argparse appends to a default list instead of replacing it: give such parameters no
            # default or None)
            kwargs.update(action="append", type=_list_item(hint))
            if param.default is param.empty:
                kwargs["required"] = True
            else:
                kwargs["default"] = param.default
        else:
            kwargs.update(type=hint)
            choices = _choices(hint)
            if choices is not None:
                kwargs["metavar"] = "{" + ",".join(str(c) for c in choices if c is not None) + "}"
            if param.default is param.empty:
                kwargs["required"] = True
            else:
                kwargs["default"] = param.default
        parser.add_argument(*flags, dest=name, **kwargs)
    return parser


def run_command(func: Callable[..., int], argv: Sequence[str] | None, *, prog: str,
                aliases: dict[str, str] | None = None, exclusive: Sequence[tuple[str, ...]] = (),
                epilog: str | None = None) -> int:
    """Parse ``argv`` against ``func``'s signature (usage errors exit with status 2) and call it.
    ``exclusive``: groups of parameters of which at most one may be given (checked here, after
    parsing: argparse's mutually exclusive groups would bypass jsonargparse's typed arguments)."""
    parser = parser_for(func, prog=prog, aliases=aliases, epilog=epilog)
    ns = parser.parse_args(list(argv) if argv is not None else None)
    for group in exclusive:
        given = [name for name in group if ns[name] is not None and ns[name] is not False]
        if len(given) > 1:
            parser.error(f"{' and '.join('--' + n.replace('_', '-') for n in given)} are alternatives; give one")
    kwargs = {name: ns[name] for name in inspect.signature(func).parameters}
    return func(**kwargs)

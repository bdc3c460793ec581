"""``.. tastypy-cli::``: the command line reference, rendered from the parser.

Reads ``tastypy.cli.build_parser()`` at build time, so the page lists exactly the
subcommands, arguments, defaults and help texts the program has.
"""

from __future__ import annotations

import argparse

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse offers no public walk of its tree
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _argument(action: argparse.Action) -> tuple[str, str]:
    if action.option_strings:
        name = ", ".join(action.option_strings)
        if action.nargs != 0:
            choices = "{" + ",".join(action.choices) + "}" if action.choices else None
            name += " " + (action.metavar or choices or action.dest.upper())
    else:
        name = action.metavar or action.dest.upper()
        if action.nargs == "?":
            name = f"[{name}]"
    help_text = action.help or ("the folder" if action.dest == "path" else "")
    # Options state their defaults in their help; a positional may not.
    if not action.option_strings and action.nargs == "?" and action.default is not None:
        help_text += f" (default: {action.default})"
    return name, help_text


def _section(title: str, parser: argparse.ArgumentParser, skip=()) -> list[str]:
    lines = [title, "-" * len(title), "", parser.description or "", ""]
    usage = " ".join(parser.format_usage().split()).removeprefix("usage: ")
    lines += ["::", "", "    " + usage, ""]
    rows = [
        _argument(action)
        for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, *skip))
    ]
    if rows:
        lines += [".. list-table::", "   :widths: 1 3", ""]
        for arg, text in rows:
            lines += [f"   * - ``{arg}``", f"     - {text or '--'}"]
        lines.append("")
    return lines


def _lines(parser: argparse.ArgumentParser) -> list[str]:
    lines = _section("tastypy", parser, skip=(argparse._SubParsersAction,))
    for name, sub in _subparsers(parser).items():
        lines += _section(f"tastypy {name}", sub)
    return lines


class CliReference(SphinxDirective):
    """Insert one section per subcommand of ``tastypy``."""

    def run(self) -> list[nodes.Node]:
        from tastypy.cli import build_parser

        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(
            self.state, StringList(_lines(build_parser()), source="tastypy.cli.build_parser()"), container
        )
        return list(container.children)


def setup(app):
    app.add_directive("tastypy-cli", CliReference)
    return {"parallel_read_safe": True}

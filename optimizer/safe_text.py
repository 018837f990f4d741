"""Text from other people's files, made safe for where it is shown (issue 15).

An instance or result file may come from another agency, and its ids and names end up in
a terminal, a spreadsheet and a Markdown memo. Each has its own way of running text:

* a terminal runs escape sequences (ESC [ ... m recolours, ESC ] 0 ; ... BEL retitles the
  window, others rewrite what was printed): :func:`plain` drops every control character
  but newline and tab, and :func:`console_text` also escapes rich's markup;
* a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or
  carriage return) as a formula, ``=HYPERLINK(...)`` among them: :func:`csv_cell` prefixes
  such a text with an apostrophe, as OWASP recommends (a number stays a number);
* Markdown is escaped where it is written (optimizer.report.markdown), and matplotlib's
  mathtext is turned off for every figure (optimizer.report.plots).
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape

# C0 controls but tab and newline, DEL, and the C1 block (U+0080-U+009F, where a single
# character such as CSI U+009B starts an escape sequence on some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# What a spreadsheet evaluates at the start of a cell.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def plain(text: str) -> str:
    """``text`` without control characters (an escape sequence loses its ESC and is inert)."""
    return _CONTROL.sub("", text)


def console_text(value: object) -> str:
    """``value`` as literal text for a rich console: no control characters, no markup."""
    return escape(plain(str(value)))


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs: a text that would start a formula gets a
    leading apostrophe; numbers and other texts are unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) \
            and not _NUMBER.fullmatch(value):
        return "'" + value
    return value

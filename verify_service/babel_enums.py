"""A pybabel extractor for words that belong to the domain's values: each member of the named enums becomes a
message whose msgid is the value and whose context names the enum (babel.cfg says which enum, which context).

The console then asks the catalogs for a value's words, `pgettext("audit event", "customer_closed")`; the
English words are in the `en` catalog like every other language's, and no table of words stands in the code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import IO, Any


def extract(fileobj: IO[bytes], keywords: Any, comment_tags: Any,
            options: dict[str, str]) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """Yield `(line, "pgettext", (context, value), comments)` for each string member of the enums in `enums`
    (`Name:context; Name:another context; Other:context`)."""
    wanted: dict[str, list[str]] = {}
    for part in options.get("enums", "").replace("\n", ";").split(";"):
        if ":" in part:
            name, context = part.split(":", 1)
            wanted.setdefault(name.strip(), []).append(context.strip())
    tree = ast.parse(fileobj.read())
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name in wanted):
            continue
        for item in node.body:
            if (isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant)
                    and isinstance(item.value.value, str)):
                member = item.targets[0].id if isinstance(item.targets[0], ast.Name) else item.value.value
                for context in wanted[node.name]:
                    yield (item.lineno, "pgettext", (context, item.value.value),
                           [f"TRANSLATORS: {node.name}.{member} ({context}): how the console says this value"])

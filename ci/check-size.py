#!/usr/bin/env python3
"""Keeps the code in pieces a reader can hold: no source file over 500
lines, no function over 60 (from its signature to its closing brace), in
hub/src and proto/src. Functions are found by layout (the
project's clang-format style: a definition starts at column 0 and its body
closes with a lone "}" at column 0), so this is a check of our own code,
not a C++ parser. Prints each offender; exits 1 if there is any."""
import pathlib
import re
import sys

MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60
ROOT = pathlib.Path(__file__).resolve().parent.parent
NOT_A_FUNCTION = re.compile(r"^(namespace|class|struct|enum|union|}|#|//|using|template|static_assert|extern|\s|$)")


def long_functions(lines):
    i = 0
    while i < len(lines):
        if NOT_A_FUNCTION.match(lines[i]) or lines[i].rstrip().endswith((";", "}")):
            i += 1
            continue
        start = i
        while i < len(lines) and not lines[i].rstrip().endswith("{") and not lines[i].rstrip().endswith(";"):
            i += 1
        if i >= len(lines) or lines[i].rstrip().endswith(";") or "=" in lines[start].split("(")[0]:
            i += 1
            continue
        end = i
        while end < len(lines) and lines[end].rstrip() != "}":
            end += 1
        length = end - start + 1
        if length > MAX_FUNCTION_LINES:
            yield start + 1, length, lines[start].strip()
        i = end + 1


def main():
    failures = 0
    for folder in ("hub/src", "proto/src", "cli"):
        for path in sorted((ROOT / folder).rglob("*.[ch]pp")):
            lines = path.read_text().splitlines()
            name = path.relative_to(ROOT)
            if len(lines) > MAX_FILE_LINES:
                print(f"{name}: {len(lines)} lines (at most {MAX_FILE_LINES})")
                failures += 1
            if path.suffix == ".cpp":
                for line, length, signature in long_functions(lines):
                    print(f"{name}:{line}: {signature} is {length} lines (at most {MAX_FUNCTION_LINES})")
                    failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

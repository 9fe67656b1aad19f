"""Writing the cross-language fixtures (scripts/encoding_fixture.py, scripts/scenario_fixture.py): one
value per line so diffs stay readable, and a --check mode that says when the file is stale."""

import argparse
import json
import os
import sys


def compact(v):
    return json.dumps(v, ensure_ascii=True, separators=(",", ":"))


def lines(items, indent):
    """A JSON array with one compact item per line."""
    return "[\n" + ",\n".join(indent + compact(x) for x in items) + "\n" + indent[:-1] + "]"


def main(argv, description, path, script, render):
    """Writes render() to path, or with --check compares (exit 1 when the file is stale)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        with open(path, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{path} is stale: run /usr/bin/python3 {script}", file=sys.stderr)
                return 1
        return 0
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {path}")
    return 0

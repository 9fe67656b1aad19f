"""Writing the cross-language fixtures (scripts/encoding_fixture.py, scripts/scenario_fixture.py): one
value per line so diffs stay readable, and a --check mode that says when the file is stale.

Stale means written by other code, not by another CPU: OpenBLAS and numpy choose their kernels by the CPU
(AVX-512 on one machine, AVX2 on another), and a fit or a statistic computed again elsewhere may differ in its
last bits (measured: at most 3.8e-14 relative in test/fixtures/validation.json, 1.0e-14 in the worked example's
logistic model). So --check, and the tests that regenerate fixtures, compare numbers to `REL` relative and
everything else (keys, lengths, strings, booleans, nulls) exactly: `same_json`."""

import argparse
import json
import math
import os
import sys

# Far above a CPU's last bits (~1e-14 measured), far below any change of the code that writes a fixture.
REL = 1e-12


def _same(a, b, rel):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a == b:
            return True
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= rel * max(abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, rel) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def same_json(a_text, b_text, rel=REL):
    """Two JSON texts hold the same document, numbers within `rel` of each other (relative)."""
    if a_text == b_text:
        return True
    try:
        return _same(json.loads(a_text), json.loads(b_text), rel)
    except ValueError:
        return False


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
            committed = f.read()
        if not same_json(committed, text):
            print(f"{path} is stale: run /usr/bin/python3 {script}", file=sys.stderr)
            return 1
        if committed != text:
            print(f"{path}: current (numbers within {REL:g} relative of this machine's)", file=sys.stderr)
        return 0
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {path}")
    return 0

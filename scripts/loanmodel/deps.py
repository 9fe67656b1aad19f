"""Fail early, with an actionable message, when a scientific library is missing."""

import importlib
import sys

REQUIRED = (("numpy", "numpy"), ("pandas", "pandas"), ("sklearn", "scikit-learn"), ("xgboost", "xgboost"))


def check_dependencies() -> None:
    missing = []
    for module, package in REQUIRED:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append((module, package))
    if missing:
        names = ", ".join(f"{m} (package {p})" for m, p in missing)
        sys.exit(
            f"error: cannot import {names}.\n"
            "Install the libraries with\n"
            "  sudo apt-get install python3-sklearn python3-xgboost python3-pandas   # Debian/Ubuntu\n"
            "or\n"
            "  pip install -r requirements.txt\n"
            "and run with the interpreter that has them (npm scripts use /usr/bin/python3)."
        )

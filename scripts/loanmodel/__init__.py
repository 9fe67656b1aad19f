"""Python half of the loan-default project: synthetic loan tapes, the Freddie Mac loader, the feature
encoder shared (as a specification) with the TypeScript runtime, training, export and reference
predictions. See docs/DATA.md and docs/ARTIFACT_FORMAT.md.

This package imports nothing heavy at import time, so `deps.check_dependencies()` can run first.
"""

"""Bring your own model: turn a model you trained into a service artifact (`npm run import-model`).

  npm run import-model -- --xgboost model.json --name my_model --sample rows.csv --out models/
  npm run import-model -- --sklearn model.pkl --name my_model --sample rows.csv --background train.csv --out models/
  npm run import-model -- --check models/my_model/1.0.0.json --xgboost model.json --sample rows.csv

Reads an XGBoost booster (`Booster.save_model("model.json")`, layouts of XGBoost 1.7, 2.x and 3.x; a `.ubj`
file when the installed XGBoost can read it) or a pickled scikit-learn LogisticRegression,
LinearDiscriminantAnalysis or GradientBoostingClassifier (binary; LogisticRegression and LDA optionally
after a StandardScaler in a Pipeline), and writes `OUT/<name>/<version>.json`: a `loan-default-model/1`
artifact with `"inputs": "features"` (one numeric field and column per feature, in the model's order).

With `--sample rows.csv` (header = feature names, empty cell = missing) it checks the artifact before
keeping it: the reference probabilities and margins against the service's TypeScript runtime
(scripts/check-artifact.ts) on every row; any row off by more than the tolerance of the model kind refuses the
artifact. The reference is the library (`Booster.predict` with the model's missing value, `predict_proba[:, 1]`)
when it wrote the model, else the writer's semantics computed from the parameters: a scikit-learn pickle of
another version (1.0 to 1.6) is read from its structure, never through the installed library's classes. `--check ARTIFACT` runs the same comparison on an
artifact already written. See docs/BRING_YOUR_OWN_MODEL.md.

Exit status: 0 written (and checked, with --sample), 1 the check failed, 2 refused (usage, unsupported model,
bad feature names or sample rows).
"""

import argparse
import copy
import csv
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts.loanmodel.contract import MODEL_NAME, MODEL_VERSION, XGBOOST  # noqa: E402
from scripts.loanmodel.deps import check_dependencies  # noqa: E402
from scripts.loanmodel.families import FAMILIES, LINEAR, TREES  # noqa: E402

CHECK_SCRIPT = os.path.join(ROOT, "scripts", "check-artifact.ts")

# The model name and version rules of the runtime, from the contract (src/contract/loan-contract.json).
NAME = MODEL_NAME
VERSION = MODEL_VERSION
# A plain decimal number: scripts/check-artifact.ts accepts exactly the same spellings, and both languages
# read them to the same double (correctly rounded).
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")

# Largest |library − service| accepted on a sample row, per model kind (docs/BRING_YOUR_OWN_MODEL.md,
# "Tolerances", has the measurements). The runtime repeats the libraries' arithmetic:
# - xgboost: float32 sums of float32 leaves in tree order, so margins are bit-identical (0). XGBoost's
#   probability is 1/(expf(−m) + 1) in float32 arithmetic; the runtime rounds the double logistic to float32.
#   Over every float32 margin in [−40, 40] the two differ by at most 2 float32 ulps (92.5 % identical, 7.3 %
#   one ulp, 0.2 % two), so 2 float32 ulps are allowed; below m = −88.7 XGBoost clamps (p < 3e-39), so
#   differences under the smallest normal float32 (1.2e-38) are allowed too.
# - gradient_boosting: the same double sums in the same order (margins bit-identical, 0); scipy's expit and
#   V8's Math.exp may differ in the last bit: 1e-15 on the probability.
# - logistic_regression, lda: the dot product in another summation order than BLAS, and a folded scaler:
#   1e-12 on the probability; on the margin 1e-12 × (1 + |intercept| + Σ_j |coefficient_j · x_j|), the size
#   of the terms summed (rounding is relative to them, not to the margin).
TOLERANCES = {
    "xgboost": {"probability": "2 float32 ulps", "margin": 0.0},
    "gradient_boosting": {"probability": 1e-15, "margin": 0.0},
    "logistic_regression": {"probability": 1e-12, "margin": "1e-12 × (1 + |b| + Σ|c·x|)"},
    "lda": {"probability": 1e-12, "margin": "1e-12 × (1 + |b| + Σ|c·x|)"},
}


def float32_ulps(a, b):
    """How many float32 values apart a and b are (after rounding each to float32)."""
    import numpy as np

    def ordered(x):
        i = np.asarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(ordered(a) - ordered(b)).astype(np.float64)


def within(family, what, library, got, X, model_section):
    """Per row: whether the service's value is within the tolerance of the library's, and that tolerance
    in absolute terms (for the message)."""
    import numpy as np
    diff = np.abs(library - got)
    tol = allowed(family, what, library, X, model_section)
    if tol is None:  # float32 ulps
        ulps = float32_ulps(library, got)
        ok = (ulps <= 2) | (diff <= np.finfo(np.float32).tiny)
        tol = np.spacing(np.abs(library).astype(np.float32)).astype(np.float64) * 2
    else:
        ok = diff <= tol
    return ok & np.isfinite(got), tol


def allowed(family, what, library, X, model_section):
    """The tolerance of each row (TOLERANCES), as an array."""
    import numpy as np
    rule = TOLERANCES[family][what]
    if rule == "2 float32 ulps":
        return None
    if isinstance(rule, str):  # linear margin: relative to the terms summed
        c = np.asarray(model_section["coefficients"], dtype=np.float64)
        terms = np.abs(X * c).sum(axis=1)
        return 1e-12 * (1 + abs(model_section["intercept"]) + terms)
    return np.full(len(library), float(rule))


# What the runtime accepts from an XGBoost document (the contract's "xgboost" rules).
LOGISTIC_OBJECTIVES = tuple(XGBOOST["objectives"])
MARGIN_OBJECTIVES = tuple(XGBOOST["margin_objectives"])
BOOSTERS = tuple(XGBOOST["boosters"])


class Refused(Exception):
    """The model, the feature names or the sample cannot be imported as asked: the message says why."""


class CheckFailed(Exception):
    pass


class Imported:
    """What the importer learned from a model file."""

    def __init__(self, family, kind, n_features, feature_names, section, oracle, training, *,
                 nan_ok, reference=None, reference_note=None, notes=(), oracle_name=None):
        self.family = family                # artifact family
        self.kind = kind                    # e.g. "Pipeline(StandardScaler, LogisticRegression)"
        self.n_features = n_features
        self.feature_names = feature_names  # the names the model records, or None
        self.section = section              # reference (list or None) → the artifact's `model` section
        self.oracle = oracle                # X (float64, NaN missing) → (probability or None, margin)
        self.training = training            # the artifact's `training` metadata
        self.nan_ok = nan_ok                # whether the library scores missing values
        self.reference = reference          # linear models: explanation reference from the model itself
        self.reference_note = reference_note
        self.notes = list(notes)
        # what the check compares the service with: the library itself, or the writer's semantics
        self.oracle_name = oracle_name or f"the library ({kind})"


# ----------------------------------------------------------------------------------------------- helpers

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def version_tuple(text):
    parts = []
    for p in str(text).split(".")[:3]:
        m = re.match(r"\d+", p)
        parts.append(int(m.group()) if m else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def jsonable(values):
    out = []
    for v in values:
        v = v.item() if hasattr(v, "item") else v
        out.append(v if isinstance(v, (bool, int, float, str)) else str(v))
    return out


def check_feature_names(names, source):
    if not names:
        raise Refused(f"{source}: no feature names")
    seen = set()
    for i, n in enumerate(names):
        if not isinstance(n, str) or n == "":
            raise Refused(f"{source}: feature {i} has no name ({n!r})")
        if n != n.strip() or any(ord(c) < 32 or ord(c) == 127 for c in n):
            raise Refused(f"{source}: feature name {n!r} has leading/trailing blanks or control characters")
        if n in seen:
            raise Refused(f"{source}: feature name {n!r} appears twice")
        seen.add(n)
    return list(names)


# ----------------------------------------------------------------------------------------------- XGBoost

def parse_base_score(value):
    """`base_score` as XGBoost writes it: "5E-1" (1.x, 2.x, 3.0) or "[5E-1]" (3.1+, one per target)."""
    text = str(value).strip()
    if text.startswith("["):
        items = json.loads(text)
        if len(items) != 1:
            raise Refused(f"base_score {text} has {len(items)} values: multi-target models are not supported")
        return float(items[0])
    return float(text)


def read_xgboost_document(path):
    """The booster document as the user's file holds it, and notes on how it was read."""
    with open(path, "rb") as f:
        raw = f.read()
    if path.lower().endswith(".ubj"):
        return ubj_document(path, raw)
    try:
        return json.loads(raw.decode("utf-8")), []
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Refused(
            f"{path}: not a JSON document ({e.__class__.__name__}). Save the booster with "
            "booster.save_model('model.json') (a '.ubj' file is read as UBJSON; the legacy binary format is "
            "not accepted)") from None


def ubj_base_score(raw):
    """The base_score string inside a UBJSON booster, read from the bytes (key, then 'S', length, text)."""
    i = raw.find(b"base_score")
    if i < 0 or raw[i + 10:i + 11] != b"S":
        return None
    j, marker = i + 11, raw[i + 11:i + 12]
    size = {b"i": 1, b"U": 1, b"I": 2, b"l": 4, b"L": 8}.get(marker)
    if size is None:
        return None
    n = int.from_bytes(raw[j + 1:j + 1 + size], "big", signed=marker != b"U")
    return raw[j + 1 + size:j + 1 + size + n].decode("utf-8", "replace")


def ubj_document(path, raw):
    import xgboost as xgb

    from scripts.loanmodel.export import booster_document
    installed = xgb.__version__
    base = ubj_base_score(raw)
    if base is not None and base.strip().startswith("[") and version_tuple(installed) < (3, 1, 0):
        raise Refused(
            f"{path}: this UBJSON booster was written by XGBoost 3.1 or later (base_score {base}); the installed "
            f"XGBoost {installed} would misread it. Save it as JSON (save_model('model.json')) with the XGBoost "
            "that trained it and import that")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            booster = xgb.Booster(model_file=path)
    except xgb.core.XGBoostError as e:
        raise Refused(
            f"{path}: the installed XGBoost {installed} cannot read this UBJSON file "
            f"({str(e).splitlines()[0][:200]}). Save it as JSON (save_model('model.json')) and import that") from None
    doc = booster_document(booster)
    return doc, [f"{os.path.basename(path)} is UBJSON: converted to JSON by the installed XGBoost {installed} "
                 "(its save_model layout)"]


def get_path(doc, *keys):
    node = doc
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            raise Refused(f"not an XGBoost save_model document: no {'.'.join(keys)}")
        node = node[k]
    return node


def oracle_booster(path, doc, from_ubj):
    """A booster of the installed XGBoost that reads the document as its author meant it.

    XGBoost < 3.1 misreads the 3.1+ spelling of base_score ("[5E-1]") without an error (it falls back
    to 0.5); the document is then given to it with base_score unwrapped, and what it read is checked."""
    import xgboost as xgb

    from scripts.loanmodel.export import booster_from_document
    installed = xgb.__version__
    notes = []
    param = get_path(doc, "learner", "learner_model_param")
    wanted = parse_base_score(param.get("base_score", "5E-1"))
    base_text = str(param.get("base_score", "")).strip()
    if base_text.startswith("[") and version_tuple(installed) < (3, 1, 0):
        d = copy.deepcopy(doc)
        d["learner"]["learner_model_param"]["base_score"] = base_text[1:-1].strip()
        booster = booster_from_document(d)
        notes.append(f"library check by the installed XGBoost {installed}, which reads base_score {base_text} "
                     f"as {base_text[1:-1].strip()} (the pre-3.1 spelling); the artifact keeps the document as written")
    elif from_ubj:
        booster = booster_from_document(doc)
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                booster = xgb.Booster(model_file=path)
        except xgb.core.XGBoostError as e:
            written_by = ".".join(str(v) for v in doc.get("version", [])) or "an unknown version"
            raise Refused(f"the installed XGBoost {installed} cannot load this document (written by XGBoost "
                          f"{written_by}): {str(e).splitlines()[0][:200]}; run the importer where that XGBoost "
                          "is installed") from None
    config = json.loads(booster.save_config())
    read = parse_base_score(config["learner"]["learner_model_param"]["base_score"])
    if _f32(wanted) != _f32(read):
        raise Refused(f"the installed XGBoost {installed} read base_score as {read}, the document says {wanted}: "
                      "it cannot check this document; run the importer where the XGBoost that wrote it is installed")
    booster.set_param({"nthread": 1})
    return booster, notes


def _f32(x):
    import numpy as np
    return np.float32(x)


def load_xgboost(path, given_missing=None):
    import numpy as np
    import xgboost as xgb

    doc, notes = read_xgboost_document(path)
    from_ubj = path.lower().endswith(".ubj")
    if not isinstance(doc, dict) or "learner" not in doc:
        raise Refused(f"{path}: not an XGBoost save_model document (no 'learner'): save the booster with "
                      "booster.save_model('model.json')")
    learner = get_path(doc, "learner")
    gb = get_path(doc, "learner", "gradient_booster")
    booster_name = gb.get("name")
    if booster_name not in BOOSTERS:
        why = {"dart": "dart scales and drops trees at prediction time",
               "gblinear": "gblinear is a linear model, not trees"}.get(booster_name, "")
        raise Refused(f"unsupported XGBoost booster {booster_name!r}: only {', '.join(map(repr, BOOSTERS))} is supported"
                      + (f" ({why})" if why else ""))
    objective = get_path(doc, "learner", "objective").get("name")
    if objective not in LOGISTIC_OBJECTIVES:
        raise Refused(f"unsupported XGBoost objective {objective!r}: only binary classification "
                      f"({', '.join(LOGISTIC_OBJECTIVES)}); multi-class, ranking and regression models are refused")
    param = get_path(doc, "learner", "learner_model_param")
    num_class = int(float(param.get("num_class", 0)))
    if num_class > XGBOOST["max_classes"]:
        raise Refused(f"multi-class XGBoost model ({num_class} classes): only binary models are supported")
    num_target = int(float(param.get("num_target", XGBOOST["targets"])))
    if num_target != XGBOOST["targets"]:
        raise Refused(f"multi-target XGBoost model ({num_target} targets): only one target is supported")
    base = parse_base_score(param.get("base_score", "5E-1"))
    if objective not in MARGIN_OBJECTIVES and not 0 < base < 1:
        raise Refused(f"base_score {base} is not a probability in (0, 1)")
    n_features = int(float(param["num_feature"]))
    types = learner.get("feature_types") or []
    categorical = [i for i, t in enumerate(types) if t == "c"]
    if categorical:
        raise Refused(f"categorical features (feature_types 'c' at {categorical[:5]}): not supported; "
                      "train on one-hot columns instead")
    model = get_path(doc, "learner", "gradient_booster", "model")
    trees = model.get("trees", [])
    for ti, t in enumerate(trees):
        if any(s != 0 for s in t.get("split_type", [])) or t.get("categories"):
            raise Refused(f"tree {ti} has categorical splits: not supported; train on one-hot columns instead")
    if any(int(g) != 0 for g in model.get("tree_info", [])):
        raise Refused("trees for several output groups (multi-class): only binary models are supported")
    per_round = int(float(model.get("gbtree_model_param", {}).get("num_parallel_tree", 1))) or 1
    rounds = len(trees) // per_round
    best = (learner.get("attributes") or {}).get("best_iteration")
    if best is not None and int(best) + 1 < rounds:
        raise Refused(
            f"the booster has {rounds} rounds but records best_iteration={best} (early stopping): XGBClassifier "
            "predicts with the first best_iteration + 1 rounds, the service scores every tree. Keep the best rounds "
            f"and import that file: booster[: {int(best) + 1}].save_model('model.json')")
    names = learner.get("feature_names") or None
    written_by = ".".join(str(v) for v in doc.get("version", [])) or "unknown"
    missing = recorded_missing(learner)
    if given_missing is not None:
        if not math.isfinite(float(_f32(given_missing))):
            raise Refused(f"--missing {given_missing!r}: not a finite float32 number")
        if not math.isnan(missing) and _f32(missing) != _f32(given_missing):
            raise Refused(f"--missing {given_missing:g} disagrees with the missing value the model records ({missing:g}, "
                          "learner.attributes.scikit_learn)")
        missing = float(given_missing)

    booster, oracle_notes = oracle_booster(path, doc, from_ubj)
    notes += oracle_notes
    if not math.isnan(missing):
        notes.append(f"missing = {missing:g} (XGBClassifier(missing=…), recorded in learner.attributes.scikit_learn): "
                     "as in XGBoost, a value equal to it in float32 is missing, and so is an empty cell (NaN); the "
                     "artifact carries it (model.missing) and the service applies it to every input")

    def oracle(X):
        d = xgb.DMatrix(X, missing=missing, feature_names=names, nthread=1)
        margin = booster.predict(d, output_margin=True).astype(np.float64)
        if objective in MARGIN_OBJECTIVES:
            return None, margin  # XGBoost predicts margins only: the probability is not the library's
        return booster.predict(d).astype(np.float64), margin

    training = {
        "library": "xgboost", "written_by": written_by, "objective": objective,
        "trees": len(trees), "rounds": rounds,
    }
    if objective in MARGIN_OBJECTIVES:
        notes.append(f"objective {objective}: XGBoost predicts margins, so margins are compared; the service's "
                     "probability is their logistic")
    section = {"booster": doc} if math.isnan(missing) else {"booster": doc, "missing": missing}
    if not math.isnan(missing):
        training["missing"] = missing
    kind = f"XGBoost {written_by} {booster_name} ({objective})"
    return Imported("xgboost", kind, n_features, names, lambda reference: section, oracle, training, nan_ok=True,
                    notes=notes, oracle_name=f"the library (the installed XGBoost {xgb.__version__}, DMatrix(missing="
                    f"{missing:g}))")


def recorded_missing(learner):
    """The missing value the model was trained with: XGBClassifier(missing=v) records it in
    learner.attributes.scikit_learn (a JSON string); a plain booster records none (NaN)."""
    raw = (learner.get("attributes") or {}).get("scikit_learn")
    if raw is None:
        return math.nan
    try:
        value = json.loads(raw).get("missing")
    except (ValueError, AttributeError):
        raise Refused("learner.attributes.scikit_learn is not a JSON object: cannot tell which value the model "
                      "treats as missing") from None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not math.isfinite(float(_f32(value))):
        raise Refused(f"the model's missing value {value!r} (learner.attributes.scikit_learn) is not a finite float32 "
                      "number: not supported")
    return float(value)


# ------------------------------------------------------------------------------------------ scikit-learn

# ------------------------------------------------------------------------ scikit-learn: what a pickle holds
#
# A pickle names the classes of the version that wrote it, and the installed scikit-learn may read another
# version's pickle wrongly (1.2 reads 1.5's multi_class='deprecated' as multinomial) or not at all (1.6's
# GradientBoostingClassifier references the module `_loss`). So the importer first reads the pickle's
# *structure*: a restricted unpickler maps every scikit-learn class to a stand-in that only keeps its state
# (numpy arrays are real), refuses any other global, and runs no scikit-learn code. The parameters and the
# version that wrote them (`_sklearn_version`) then decide the link; the installed library is the check's
# reference only when it is that version.

# Writer versions whose prediction semantics the importer implements from the parameters (documented in
# docs/BRING_YOUR_OWN_MODEL.md): 1.0 up to, not including, 1.7.
KNOWN_WRITERS = ((1, 0, 0), (1, 7, 0))


class Stub:
    """A scikit-learn object as the pickle holds it: its class name and state, nothing run."""
    qualname = "?"

    def __init__(self, *args, **kwargs):
        self.args, self.state = args, {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"_state": state}

    def get(self, key, default=None):
        return self.state.get(key, default)


_STUBS = {}


def stub_class(module, name):
    key = f"{module}.{name}"
    if key not in _STUBS:
        _STUBS[key] = type(name, (Stub,), {"qualname": key})
    return _STUBS[key]


class StructureUnreadable(Exception):
    pass


def _structure_unpickler():
    import joblib.numpy_pickle as jnp

    numpy_globals = {("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
                     ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
                     ("copyreg", "_reconstructor"), ("builtins", "object"), ("_codecs", "encode")}

    class StructureUnpickler(jnp.NumpyUnpickler):
        def find_class(self, module, name):
            if module.startswith("numpy._core"):  # numpy 2 spells numpy.core so
                module = "numpy.core" + module[len("numpy._core"):]
            if (module, name) in numpy_globals or (module == "joblib.numpy_pickle" and name == "NumpyArrayWrapper"):
                return super().find_class(module, name)
            # scikit-learn's classes; numpy random states; Cython types of Meson builds (module `_loss`)
            if module.split(".")[0] == "sklearn" or module.startswith("numpy.random") or \
                    (module.startswith("_") and "." not in module and module not in ("__builtin__", "__main__")):
                return stub_class(module, name)
            raise StructureUnreadable(f"{module}.{name}")
    return StructureUnpickler


def read_structure(path):
    """The pickle's objects with stand-ins for scikit-learn classes, or raises StructureUnreadable."""
    import joblib.numpy_pickle as jnp
    unpickler = _structure_unpickler()
    try:
        with open(path, "rb") as f, jnp._read_fileobject(f, path, None) as fobj:
            if isinstance(fobj, str):
                raise StructureUnreadable("an old joblib format")
            return unpickler(path, fobj).load()
    except StructureUnreadable:
        raise
    except Exception as e:  # noqa: BLE001 - not a pickle this reader understands
        raise StructureUnreadable(f"{e.__class__.__name__}: {str(e)[:200]}") from None


def stub_name(obj):
    return obj.qualname.rsplit(".", 1)[-1] if isinstance(obj, Stub) else type(obj).__name__


def pickle_writer(obj):
    """The scikit-learn version that wrote the pickle (`_sklearn_version` of the top estimator), or None."""
    if isinstance(obj, Stub):
        v = obj.get("_sklearn_version")
        return str(v) if v is not None else None
    return None


def writer_link(multi_class, solver, n_classes, written, installed):
    """The factor k of LogisticRegression's binary probability logistic(k · decision_function), as the version
    that wrote the model computes it (scikit-learn 1.0–1.6 `predict_proba`: one-vs-rest for 'ovr'; for 'auto'
    (and 1.5+'s 'deprecated', its new default) one-vs-rest on two classes or with liblinear; otherwise the
    multinomial softmax([-m, m]) = logistic(2m)). Refuses what it cannot be sure of, naming both versions."""
    if n_classes != 2:
        return None
    wv = version_tuple(written) if written else None
    if wv is None or not (KNOWN_WRITERS[0] <= wv < KNOWN_WRITERS[1]):
        raise Refused(f"LogisticRegression written by scikit-learn {written or '(version not recorded)'}, installed "
                      f"{installed}: the importer knows how scikit-learn 1.0 to 1.6 compute probabilities, not how "
                      f"this version does (multi_class={multi_class!r}, solver={solver!r}); import it where "
                      f"scikit-learn {written or 'that version'} is installed")
    known = {"ovr": 1.0, "auto": 1.0, "multinomial": 2.0}
    if wv >= (1, 5, 0):
        known["deprecated"] = 1.0
    if multi_class not in known or (multi_class == "multinomial" and solver == "liblinear"):
        raise Refused(f"LogisticRegression(multi_class={multi_class!r}, solver={solver!r}) written by scikit-learn "
                      f"{written}, installed {installed}: not a combination scikit-learn {written} defines for a "
                      "binary model; the importer cannot be sure of its probability and refuses it")
    return known[multi_class]

def unpickle(path, written=None, structure=None):
    import joblib
    import sklearn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = joblib.load(path)  # joblib.dump files and plain pickles alike
        except Exception as e:  # noqa: BLE001 - whatever unpickling raises, the file is not usable here
            what = f"a {stub_name(structure)} " if isinstance(structure, Stub) else ""
            by = f"written by scikit-learn {written}" if written else "the pickle records no scikit-learn version"
            raise Refused(
                f"{path}: cannot unpickle {what}({e.__class__.__name__}: {str(e)[:200]}); {by}, installed scikit-learn "
                f"{sklearn.__version__}. The importer reads LogisticRegression, LinearDiscriminantAnalysis, "
                "GradientBoostingClassifier and their StandardScaler pipelines from scikit-learn 1.0 to 1.6 whatever "
                f"is installed; for anything else run the importer where scikit-learn {written or 'that wrote it'} is "
                "installed") from None
    notes = [f"unpickling: {w.message}" for w in caught if "version" in str(w.message).lower()]
    return model, notes


def class_name(obj):
    return type(obj).__name__


def binary_classes(est, what):
    classes = getattr(est, "classes_", None)
    if classes is None:
        raise Refused(f"{what} is not fitted (no classes_)")
    if len(classes) != 2:
        raise Refused(f"{what} has {len(classes)} classes: only binary classifiers are supported")
    return classes


def load_sklearn(path):
    """A scikit-learn model: read by the installed library when it wrote the pickle, else from the pickle's
    structure with the writer's semantics."""
    import sklearn
    installed = sklearn.__version__
    try:
        structure = read_structure(path)
    except StructureUnreadable:
        structure = None
    written = pickle_writer(structure)
    if written is not None and written != installed:
        return load_foreign(path, structure, written, installed)
    return load_installed(path, written, structure)


def load_installed(path, written, structure):
    import numpy as np
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    model, notes = unpickle(path, written, structure)
    module = type(model).__module__.split(".")[0]
    if module == "xgboost":
        raise Refused(f"{path} holds an XGBoost scikit-learn wrapper ({class_name(model)}): save its booster with "
                      "model.save_model('model.json') and import that with --xgboost")
    scaler, est = None, model
    if isinstance(model, Pipeline):
        steps = [s for _, s in model.steps if s is not None and s != "passthrough"]
        if (len(steps) == 2 and type(steps[0]) is StandardScaler
                and isinstance(steps[1], (LogisticRegression, LinearDiscriminantAnalysis))):
            scaler, est = steps
        else:
            raise Refused(
                "unsupported Pipeline(" + ", ".join(class_name(s) for s in steps) + "): the only pipeline supported "
                "is StandardScaler followed by LogisticRegression or LinearDiscriminantAnalysis (the scaler is "
                "folded into the coefficients). Tree models take raw features: import the estimator itself")
    kind = class_name(est) if scaler is None else f"Pipeline(StandardScaler, {class_name(est)})"
    import sklearn
    training = {"library": "scikit-learn", "library_version": sklearn.__version__, "written_by": written or "unknown",
                "estimator": kind}

    if isinstance(est, (LogisticRegression, LinearDiscriminantAnalysis)):
        classes = binary_classes(est, kind)
        factor = 1.0
        if isinstance(est, LogisticRegression):
            factor = writer_link(est.multi_class, est.solver, 2, written or installed_version(), installed_version())
            if logistic_factor(est, len(np.ravel(est.coef_))) != factor:
                raise Refused(f"{kind}: the installed scikit-learn's predict_proba does not match its own documented "
                              f"semantics for multi_class={est.multi_class!r}: the importer cannot be sure of the link")

        def oracle(X):
            X = as_frame(model, X)
            return model.predict_proba(X)[:, 1].astype(np.float64), factor * model.decision_function(X)

        scaler_params = None if scaler is None else (scaler.with_mean, scaler.with_std, scaler.mean_, scaler.scale_)
        lda_priors = (est.priors, getattr(est, "priors_", None), getattr(est, "means_", None)) \
            if isinstance(est, LinearDiscriminantAnalysis) else None
        return linear_import(kind, type(est).__name__, est.coef_, est.intercept_, factor, scaler_params, lda_priors,
                             classes, feature_names_in(model), training, notes, oracle)

    if isinstance(est, GradientBoostingClassifier):
        classes = binary_classes(est, kind)
        if getattr(est, "loss", "log_loss") not in ("log_loss", "deviance"):
            raise Refused(f"GradientBoostingClassifier(loss={est.loss!r}): only loss='log_loss' (binary deviance) is "
                          "supported; the exponential loss has another link")
        init = est.init
        if not (init is None or (isinstance(init, str) and init == "zero")):
            raise Refused(f"GradientBoostingClassifier(init={class_name(init)}): only the default init (the class "
                          "prior) or 'zero' are supported; an init estimator's prediction depends on the row")
        if est.estimators_.shape[1] != 1:
            raise Refused(f"{kind} has {est.estimators_.shape[1]} trees per stage: only binary models are supported")
        n = int(est.n_features_in_)
        probe = np.zeros((1, n))
        if not np.isfinite(est._raw_predict_init(probe)).all():
            raise Refused(f"{kind}: non-finite initial margin")

        def section(ref):
            from scripts.loanmodel.export import gbm_parameters
            return gbm_parameters(est, probe)

        def oracle(X):
            X = as_frame(model, X)
            return model.predict_proba(X)[:, 1].astype(np.float64), model.decision_function(X).astype(np.float64)

        training["classes"] = jsonable(classes)
        training["trees"] = int(est.estimators_.shape[0])
        return Imported("gradient_boosting", kind, n, feature_names_in(model), section, oracle, training,
                        nan_ok=False, notes=notes)

    raise Refused(f"unsupported model {type(model).__module__}.{class_name(model)}: supported are LogisticRegression, "
                  "LinearDiscriminantAnalysis, GradientBoostingClassifier (binary), Pipeline(StandardScaler, "
                  "LogisticRegression | LinearDiscriminantAnalysis), and XGBoost boosters (--xgboost)")


def installed_version():
    import sklearn
    return sklearn.__version__


def linear_import(kind, name, coef, intercept, factor, scaler, lda_priors, classes, names, training, notes, oracle,
                  oracle_name=None):
    """LogisticRegression / LDA (optionally after a StandardScaler, folded in) as a linear artifact section.
    `scaler` is (with_mean, with_std, mean_, scale_) or None; `lda_priors` (priors, priors_, means_) or None."""
    import numpy as np
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64).reshape(-1)
    if coef.ndim != 2 or coef.shape[0] != 1 or intercept.shape != (1,):
        raise Refused(f"{kind}: expected one row of coefficients (binary), got {coef.shape}")
    coef, b = coef[0], float(intercept[0])
    n = coef.shape[0]
    notes = list(notes)
    if factor == 2.0:
        notes.append("multi_class='multinomial' on two classes: scikit-learn's probability is "
                     "softmax([-m, m]) = logistic(2m), so the coefficients are doubled")
    reference, reference_note = None, None
    if scaler is not None:
        with_mean, with_std, mean_, scale_ = scaler
        # transform() subtracts mean_ only with with_mean and divides by scale_ only with with_std
        mean = np.asarray(mean_, dtype=np.float64) if with_mean else np.zeros(n)
        scale = np.asarray(scale_, dtype=np.float64) if with_std else np.ones(n)
        if mean.shape != (n,) or scale.shape != (n,):
            raise Refused(f"{kind}: the scaler has {mean.shape[0]} features, the estimator {n}")
        # Σ c_j (x_j − μ_j)/σ_j + b = Σ (c_j/σ_j) x_j + (b − Σ c_j μ_j/σ_j): exact algebra, ulps apart.
        folded = coef / scale
        b = b - math.fsum((folded * mean).tolist())
        coef = folded
        if mean_ is not None:
            reference = np.asarray(mean_, dtype=np.float64).tolist()
            reference_note = "the scaler's mean_ (the training mean of each feature)"
        notes.append("StandardScaler folded into the coefficients: coefficient_j / scale_j, "
                     "intercept − Σ coefficient_j · mean_j / scale_j")
    elif lda_priors is not None and lda_priors[0] is None:
        # With empirical priors, Σ_k priors_k · means_k is the training mean of each feature.
        reference = (np.asarray(lda_priors[1]) @ np.asarray(lda_priors[2])).astype(np.float64).tolist()
        reference_note = "Σ priors_ · means_ (the training mean of each feature, LDA's empirical priors)"
    coef, b = coef * factor, b * factor
    if not (np.isfinite(coef).all() and math.isfinite(b)):
        raise Refused(f"{kind}: non-finite coefficients")
    family = "logistic_regression" if name == "LogisticRegression" else "lda"

    def section(ref):
        from types import SimpleNamespace

        from scripts.loanmodel.export import linear_parameters
        fitted = SimpleNamespace(coef_=coef[None, :], intercept_=np.array([b]))
        params = linear_parameters(fitted, np.array([ref if ref is not None else np.zeros(n)], dtype=np.float64))
        if ref is None:
            del params["reference"]
        return params

    training = dict(training, classes=jsonable(classes))
    return Imported(family, kind, n, names, section, oracle, training, nan_ok=False, reference=reference,
                    reference_note=reference_note, notes=notes, oracle_name=oracle_name)


def load_foreign(path, root, written, installed):
    """A pickle another scikit-learn version wrote: parameters from its structure (stand-ins, no scikit-learn
    class loaded), the check's reference the writer's semantics computed from them with numpy."""
    import numpy as np
    from scipy.special import expit
    top = stub_name(root)
    if not (KNOWN_WRITERS[0] <= version_tuple(written) < KNOWN_WRITERS[1]):
        raise Refused(f"{path}: a {top} written by scikit-learn {written}, installed {installed}: the importer knows "
                      "the semantics of scikit-learn 1.0 to 1.6 only; run it where scikit-learn "
                      f"{written} is installed")
    scaler, est = None, root
    if top == "Pipeline":
        steps = [st[1] for st in root.get("steps", []) if st[1] is not None and st[1] != "passthrough"]
        if (len(steps) == 2 and stub_name(steps[0]) == "StandardScaler"
                and stub_name(steps[1]) in ("LogisticRegression", "LinearDiscriminantAnalysis")):
            scaler, est = steps
        else:
            raise Refused(
                "unsupported Pipeline(" + ", ".join(stub_name(s) for s in steps) + "): the only pipeline supported "
                "is StandardScaler followed by LogisticRegression or LinearDiscriminantAnalysis")
    name = stub_name(est)
    kind = name if scaler is None else f"Pipeline(StandardScaler, {name})"
    if name not in ("LogisticRegression", "LinearDiscriminantAnalysis", "GradientBoostingClassifier"):
        raise Refused(f"{path}: unsupported model {name} (written by scikit-learn {written}, installed {installed}): "
                      "supported are LogisticRegression, LinearDiscriminantAnalysis, GradientBoostingClassifier "
                      "(binary) and Pipeline(StandardScaler, LogisticRegression | LinearDiscriminantAnalysis)")
    classes = est.get("classes_")
    if classes is None:
        raise Refused(f"{kind} is not fitted (no classes_)")
    if len(classes) != 2:
        raise Refused(f"{kind} has {len(classes)} classes: only binary classifiers are supported")
    names = (scaler or est).get("feature_names_in_")
    names = None if names is None else [str(n) for n in names]
    training = {"library": "scikit-learn", "library_version": installed, "written_by": written, "estimator": kind}
    notes = [f"written by scikit-learn {written}, installed scikit-learn {installed}: the parameters are read "
             "from the pickle's arrays (no scikit-learn class is loaded) and the check's reference is scikit-learn "
             f"{written}'s semantics computed from them"]
    oracle_name = f"the writer's semantics (scikit-learn {written} {kind}, computed from the parameters with numpy)"

    if name == "GradientBoostingClassifier":
        section = foreign_gbm_section(est, kind)

        def oracle(X):
            from scripts.loanmodel.export import gbm_margins
            m = gbm_margins(section, X)
            return expit(m), m
        notes.append(installed_reading(path, oracle, est.get("n_features_in_"), written, installed))
        training.update(classes=jsonable(classes), trees=len(section["trees"]))
        return Imported("gradient_boosting", kind, int(est.get("n_features_in_")), names, lambda ref: section, oracle,
                        training, nan_ok=False, notes=notes, oracle_name=oracle_name)

    coef = np.asarray(est.get("coef_"), dtype=np.float64)
    intercept = np.asarray(est.get("intercept_"), dtype=np.float64).reshape(-1)
    factor = 1.0
    if name == "LogisticRegression":
        factor = writer_link(est.get("multi_class"), est.get("solver"), len(classes), written, installed)
    sc = None if scaler is None else (scaler.get("with_mean", True), scaler.get("with_std", True),
                                      scaler.get("mean_"), scaler.get("scale_"))

    def oracle(X):
        Z = np.array(X, dtype=np.float64)
        if sc is not None:  # StandardScaler.transform
            if sc[0]:
                Z = Z - np.asarray(sc[2], dtype=np.float64)
            if sc[1]:
                Z = Z / np.asarray(sc[3], dtype=np.float64)
        m = factor * (Z @ coef.reshape(-1) + intercept[0])
        return expit(m), m

    notes.append(installed_reading(path, oracle, coef.size, written, installed))
    lda = (est.get("priors"), est.get("priors_"), est.get("means_")) if name == "LinearDiscriminantAnalysis" else None
    return linear_import(kind, name, coef, intercept, factor, sc, lda, classes, names, training, notes, oracle,
                         oracle_name)


def foreign_gbm_section(est, kind):
    """The gradient_boosting section from a GradientBoostingClassifier's structure (scikit-learn 1.0–1.6: the
    prior's log-odds log(p / (1 − p)), p clipped to [eps, 1 − eps] (float32 eps), or 0 with init='zero'; each
    stage's Tree node records and values)."""
    import numpy as np
    loss = est.get("loss", "log_loss")
    if loss not in ("log_loss", "deviance"):
        raise Refused(f"GradientBoostingClassifier(loss={loss!r}): only loss='log_loss' (binary deviance) is "
                      "supported; the exponential loss has another link")
    init = est.get("init")
    if not (init is None or (isinstance(init, str) and init == "zero")):
        raise Refused(f"GradientBoostingClassifier(init={stub_name(init)}): only the default init (the class "
                      "prior) or 'zero' are supported; an init estimator's prediction depends on the row")
    stages = est.get("estimators_")
    if stages is None or np.ndim(stages) != 2 or np.shape(stages)[1] != 1:
        raise Refused(f"{kind}: expected one tree per stage (binary), got {np.shape(stages)}")
    if init is None:
        prior = np.asarray(est.get("init_").get("class_prior_"), dtype=np.float64)
        eps = np.finfo(np.float32).eps
        p = np.clip(prior[1], eps, 1 - eps)
        init_margin = float(np.log(p / (1 - p)))
    else:
        init_margin = 0.0
    trees = []
    for stage in stages[:, 0]:
        state = stage.get("tree_").state
        nodes, values = state["nodes"], np.asarray(state["values"])
        tree = {"children_left": nodes["left_child"].tolist(), "children_right": nodes["right_child"].tolist(),
                "feature": nodes["feature"].tolist(), "threshold": nodes["threshold"].tolist(),
                "value": values[:, 0, 0].astype(np.float64).tolist()}
        if "missing_go_to_left" in nodes.dtype.names:
            tree["missing_go_to_left"] = nodes["missing_go_to_left"].astype(int).tolist()
        tree["cover"] = nodes["weighted_n_node_samples"].tolist()
        trees.append(tree)
    section = {"init_margin": init_margin, "learning_rate": float(est.get("learning_rate")), "trees": trees}
    if not math.isfinite(init_margin):
        raise Refused(f"{kind}: non-finite initial margin")
    return section


def installed_reading(path, oracle, n, written, installed):
    """What the installed scikit-learn makes of the pickle, compared with the writer's semantics on probe rows
    (for the notes: it is never the reference for another version's pickle)."""
    import numpy as np
    n = int(n)
    import joblib
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = joblib.load(path)
    except Exception as e:  # noqa: BLE001 - whatever unpickling raises, the note says it
        return (f"the installed scikit-learn {installed} cannot unpickle it ({e.__class__.__name__}: "
                f"{str(e).splitlines()[0][:120]}): not used")
    probe = np.vstack([np.zeros(n), np.ones(n), np.linspace(-2, 2, n)])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = model.predict_proba(as_frame(model, probe))[:, 1]
    except Exception as e:  # noqa: BLE001 - whatever the installed version does with another's objects
        return f"the installed scikit-learn {installed} cannot score it ({e.__class__.__name__}): not used"
    d = float(np.max(np.abs(got - oracle(probe)[0])))
    if not d <= 1e-12:
        return (f"the installed scikit-learn {installed} reads this pickle differently: its predict_proba differs "
                f"from scikit-learn {written}'s by up to {d:.3g} on probe rows; it is not the check's reference")
    return f"the installed scikit-learn {installed} agrees with scikit-learn {written}'s semantics on probe rows"


def logistic_factor(est, n):
    """scikit-learn's binary LogisticRegression gives logistic(m), or with multi_class='multinomial'
    softmax([-m, m]) = logistic(2m). Which one is read from predict_proba itself on two probe rows."""
    import numpy as np
    from scipy.special import expit
    probe = np.vstack([np.zeros(n), np.ones(n)])
    probe = as_frame(est, probe)
    got, m = est.predict_proba(probe)[:, 1], est.decision_function(probe)
    for factor in (1.0, 2.0):
        if np.allclose(got, expit(factor * m), rtol=0, atol=1e-12):
            return factor
    raise Refused(f"{class_name(est)}: predict_proba is neither logistic(decision_function) nor its multinomial form")


def as_frame(model, X):
    """X as the model was fitted on it: a DataFrame with its column names when it records them."""
    names = feature_names_in(model)
    if names is None:
        return X
    import pandas as pd
    return pd.DataFrame(X, columns=list(model.feature_names_in_))


def feature_names_in(model):
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


# ------------------------------------------------------------------------------------------------- data

def read_rows(path, features, what="--sample"):
    """The CSV's rows as a float64 matrix in feature order (NaN = empty cell), and notes."""
    import numpy as np
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r]
    except OSError as e:
        raise Refused(f"{what} {path}: {e.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as e:
        raise Refused(f"{what} {path}: not a readable CSV file ({e})") from None
    if not rows:
        raise Refused(f"{what} {path}: empty (a header row of feature names is needed)")
    header = rows[0]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise Refused(f"{what} {path}: column(s) {dup} appear twice in the header")
    absent = [f for f in features if f not in header]
    if absent:
        raise Refused(f"{what} {path}: no column for feature(s) {absent[:10]}"
                      + (f" (and {len(absent) - 10} more)" if len(absent) > 10 else ""))
    extra = [h for h in header if h not in set(features)]
    notes = [f"{what}: column(s) ignored (not features): {extra[:10]}"] if extra else []
    index = [header.index(f) for f in features]
    X = np.empty((len(rows) - 1, len(features)))
    for r, cells in enumerate(rows[1:]):
        if len(cells) != len(header):
            raise Refused(f"{what} {path}: data row {r + 1} has {len(cells)} cells, the header {len(header)}")
        for j, i in enumerate(index):
            cell = cells[i]
            if cell == "":
                X[r, j] = math.nan
            elif NUMBER.match(cell) and math.isfinite(float(cell)):
                X[r, j] = float(cell)
            else:
                raise Refused(f"{what} {path}: data row {r + 1}, column {features[j]!r}: not a finite number: "
                              f"{cell!r} (write missing values as an empty cell)")
    if len(X) == 0:
        raise Refused(f"{what} {path}: no data rows")
    return X, notes


# Tree models read float32 rows: a number beyond the float32 range would become ±infinity, which XGBoost and
# scikit-learn refuse (the service answers 400 for it).
FLOAT32_FAMILIES = TREES


def refuse_beyond_float32(X, features, kind, what):
    import numpy as np
    with np.errstate(over="ignore"):
        rows, cols = np.nonzero(np.isinf(X.astype(np.float32)))
    if len(rows):
        r, c = int(rows[0]), int(cols[0])
        raise Refused(f"{what}: data row {r + 1}, column {features[c]!r}: {X[r, c]!r} is beyond the float32 range "
                      f"(±3.4028235e38): {kind} reads float32 features, and the libraries refuse such a value "
                      f"({len(rows)} value(s) in all)")


def refuse_missing(X, features, kind, what):
    import numpy as np
    rows, cols = np.nonzero(np.isnan(X))
    if len(rows):
        where = ", ".join(f"data row {r + 1} {features[c]!r}" for r, c in list(zip(rows, cols))[:5])
        raise Refused(f"{what} has missing values ({len(set(rows.tolist()))} row(s): {where}…): {kind} cannot score "
                      "missing values (scikit-learn refuses NaN), so they cannot be checked either. Give rows "
                      "without missing values (the service must not be sent missing values for this model)")


# ------------------------------------------------------------------------------------------ the artifact

def resolve_features(imported, args):
    given, source = None, None
    if args.features is not None:
        given, source = [s.strip() for s in args.features.split(",")], "--features"
    elif args.features_file is not None:
        try:
            with open(args.features_file, encoding="utf-8-sig") as f:
                given = [line.rstrip("\r\n") for line in f if line.strip()]
        except OSError as e:
            raise Refused(f"--features-file {args.features_file}: {e.strerror}") from None
        source = "--features-file"
    if given is not None:
        check_feature_names(given, source)
        if len(given) != imported.n_features:
            raise Refused(f"{source} names {len(given)} features, the model has {imported.n_features}")
        if imported.feature_names and imported.feature_names != given:
            diff = next(i for i, (a, b) in enumerate(zip(imported.feature_names, given)) if a != b)
            raise Refused(f"{source} disagrees with the feature names the model records: feature {diff} is "
                          f"{imported.feature_names[diff]!r} in the model, {given[diff]!r} in {source} "
                          "(leave the option out to use the model's names)")
        return given, source
    if not imported.feature_names:
        raise Refused(f"the model records no feature names: name its {imported.n_features} features with "
                      "--features a,b,c or --features-file names.txt (one per line, in the model's column order)")
    names = check_feature_names(imported.feature_names, "the model's feature names")
    if len(names) != imported.n_features:
        raise Refused(f"the model records {len(names)} feature names for {imported.n_features} features")
    return names, "model"


def build_artifact(args, imported, features, feature_source, reference, reference_note, model_path):
    from scripts.loanmodel.export import FORMAT
    training = {
        "imported_by": "scripts/import_model.py",
        "source_file": os.path.basename(model_path),
        "source_sha256": sha256_file(model_path),
        **imported.training,
        "feature_names_from": feature_source,
    }
    if imported.family in LINEAR:
        training["reference"] = reference_note or "none: explanations unavailable (import with --background)"
    label = args.label or (f"probability of class {imported.training['classes'][1]!r}"
                           if "classes" in imported.training else "probability of the positive class (label 1)")
    description = args.description or (f"{imported.kind}, {len(features)} features, imported from "
                                       f"{os.path.basename(model_path)}")
    return {
        "format": FORMAT, "name": args.name, "family": imported.family, "version": args.version,
        "description": description, "label": label, "decision_threshold": args.threshold, "inputs": "features",
        "fields": [{"name": f, "kind": "numeric", "missing_values": []} for f in features],
        "columns": [{"name": f, "field": f, "op": "numeric"} for f in features],
        "model": imported.section(reference), "training": training,
    }


# -------------------------------------------------------------------------------------------- the check

def run_service(artifact_path, csv_path):
    """The service's runtime on the rows: scripts/check-artifact.ts, as JSON."""
    node = shutil.which("node")
    if node is None:
        raise Refused("node is not on PATH: the check runs the service's TypeScript runtime (Node.js ≥ 20)")
    cmd = [node, "--import", "tsx", CHECK_SCRIPT, os.path.abspath(artifact_path), os.path.abspath(csv_path)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise CheckFailed(f"the service's runtime refused it (exit {p.returncode}):\n  "
                          + (p.stderr.strip() or p.stdout.strip())[-2000:])
    return json.loads(p.stdout)


def check(family, imported, X, artifact_path, csv_path, out):
    """Library vs service on every row; raises CheckFailed naming the worst row when one is off."""
    import numpy as np
    with open(artifact_path, encoding="utf-8") as f:
        section = json.load(f)["model"]
    try:
        lib_p, lib_m = imported.oracle(X)
    except Exception as e:  # noqa: BLE001 - the library refusing the rows is a refusal, not a traceback
        raise Refused(f"the reference cannot score the sample rows ({e.__class__.__name__}: "
                      f"{str(e).splitlines()[0][:200]})") from None
    svc = run_service(artifact_path, csv_path)
    svc_p, svc_m = np.array(svc["probability"], dtype=np.float64), np.array(svc["margin"], dtype=np.float64)
    if len(svc_p) != len(X):
        raise CheckFailed(f"the service scored {len(svc_p)} rows, the reference {len(X)}")
    print(f"check: {len(X)} sample rows, reference = {imported.oracle_name}, against the service's runtime "
          f"(scripts/check-artifact.ts, {svc['family']}, sha256 {svc['sha256'][:12]}…)", file=out)
    failures, measured = [], {}
    for what, lib, got in (("probability", lib_p, svc_p), ("margin", lib_m, svc_m)):
        if lib is None:
            print(f"  {what:<11}  not compared (the library does not predict it)", file=out)
            continue
        diff = np.abs(lib - got)
        diff = np.where(np.isnan(diff), np.inf, diff)
        ok, tol = within(family, what, lib, got, X, section)
        over = np.nonzero(~ok)[0]
        i = int(np.argmax(diff))
        measured[what] = float(diff[i])
        rule = TOLERANCES[family][what]
        extra = ""
        if rule == "2 float32 ulps":
            ulps = float32_ulps(lib, got)
            extra = (f", {float(np.max(ulps)):g} float32 ulp(s); {int(np.count_nonzero(ulps))} of {len(X)} row(s) "
                     "not bit-identical")
            measured["probability_float32_ulps"] = float(np.max(ulps))
        elif rule != 0:
            extra = f", {float(np.max(diff / tol)):.2g} of the tolerance"
        shown = "0, bit-identical" if rule == 0 else rule
        print(f"  {what:<11}  max |reference − service| = {diff[i]:.3g}{extra} (tolerance {shown}); "
              f"worst: data row {i + 1}, reference {lib[i]!r}, service {got[i]!r}", file=out)
        if len(over):
            k = int(over[np.argmax(diff[over] - tol[over])])
            failures.append(f"{what}: {len(over)} of {len(X)} row(s) differ by more than the tolerance ({rule}); "
                            f"e.g. data row {k + 1}: reference {lib[k]!r}, service {got[k]!r}, difference "
                            f"{diff[k]:.3g} > {tol[k]:.3g}")
    if failures:
        raise CheckFailed("; ".join(failures))
    return measured


# ------------------------------------------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(prog="npm run import-model --", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See docs/BRING_YOUR_OWN_MODEL.md.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--xgboost", metavar="MODEL.json", help="an XGBoost booster written by save_model (.json, .ubj)")
    src.add_argument("--sklearn", metavar="MODEL.pkl", help="a pickled (or joblib) fitted scikit-learn classifier")
    ap.add_argument("--missing", type=float, metavar="VALUE",
                    help="XGBoost: the value the model was trained to treat as missing (DMatrix(missing=VALUE)), when "
                    "the file does not record it (XGBClassifier(missing=...) does)")
    names = ap.add_mutually_exclusive_group()
    names.add_argument("--features", metavar="A,B,C", help="feature names in the model's column order")
    names.add_argument("--features-file", metavar="FILE", help="feature names, one per line, in column order")
    ap.add_argument("--name", help="the model's name in the service: [a-z][a-z0-9_]*")
    ap.add_argument("--version", default="1.0.0", help="MAJOR.MINOR.PATCH (default 1.0.0)")
    ap.add_argument("--description", help="what the model is (default: its kind and source file)")
    ap.add_argument("--label", help="what the probability means (default: probability of the positive class)")
    ap.add_argument("--threshold", type=float, default=0.5,
                    help="decision threshold in (0, 1): probability at or above which the class is positive (0.5)")
    ap.add_argument("--out", metavar="DIR", help="writes DIR/<name>/<version>.json")
    ap.add_argument("--force", action="store_true", help="overwrite an existing DIR/<name>/<version>.json")
    ap.add_argument("--sample", metavar="ROWS.csv", help="rows to check the service against the library on "
                    "(header = feature names, empty cell = missing)")
    ap.add_argument("--background", metavar="ROWS.csv", help="linear models: rows whose column means are the "
                    "explanation reference (e.g. the training set)")
    ap.add_argument("--check", metavar="ARTIFACT", help="compare an artifact already written with the model on "
                    "--sample, write nothing")
    args = ap.parse_args(argv)
    if args.check:
        if not args.sample:
            ap.error("--check needs --sample")
        if args.out or args.background:
            ap.error("--check writes nothing: --out and --background do not apply")
        return args
    if args.missing is not None and not args.xgboost:
        ap.error("--missing is for XGBoost models (scikit-learn models take no missing values)")
    if not args.name or not args.out:
        ap.error("--name and --out are required (or --check ARTIFACT)")
    if not NAME.match(args.name):
        ap.error(f"--name {args.name!r}: lower case letter first, then lower case letters, digits and _ "
                 "(the service's model name rule)")
    if not VERSION.match(args.version):
        ap.error(f"--version {args.version!r} is not MAJOR.MINOR.PATCH")
    if not (0 < args.threshold < 1):
        ap.error(f"--threshold {args.threshold} must lie in (0, 1)")
    return args


def main(argv=None, out=None):
    argv = sys.argv[1:] if argv is None else argv
    out = out or sys.stdout
    args = parse_args(argv)
    check_dependencies()
    try:
        return run(args, out)
    except Refused as e:
        print(f"import-model: refused: {e}", file=sys.stderr)
        return 2
    except CheckFailed as e:
        print(f"import-model: CHECK FAILED: {e}", file=sys.stderr)
        return 1


def run(args, out):
    model_path = args.xgboost or args.sklearn
    if not os.path.isfile(model_path):
        raise Refused(f"{model_path}: no such file")
    if args.xgboost:
        try:
            imported = load_xgboost(model_path, args.missing)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise Refused(f"{model_path}: not a valid XGBoost save_model document ({e.__class__.__name__}: "
                          f"{str(e)[:200]})") from None
    else:
        imported = load_sklearn(model_path)
    features, feature_source = resolve_features(imported, args)
    notes = list(imported.notes)

    X = None
    if args.sample:
        X, sample_notes = read_rows(args.sample, features)
        notes += sample_notes
        if not imported.nan_ok:
            refuse_missing(X, features, imported.kind, f"--sample {args.sample}")
        if imported.family in FLOAT32_FAMILIES:
            refuse_beyond_float32(X, features, imported.kind, f"--sample {args.sample}")

    if args.check:
        for n in notes:
            print(f"note: {n}", file=out)
        try:
            with open(args.check, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise Refused(f"--check {args.check}: cannot read it as JSON ({e})") from None
        if doc.get("family") != imported.family:
            raise Refused(f"{args.check} is a {doc.get('family')!r} artifact, the model a {imported.family!r} one")
        names = [f.get("name") for f in doc.get("fields", []) if isinstance(f, dict)]
        if names != features:
            raise Refused(f"{args.check} reads the features {names[:5]}…, the model {features[:5]}…: "
                          "not this model")
        check(imported.family, imported, X, args.check, args.sample, out)
        print(f"OK: {args.check} matches {model_path} on every row of {args.sample}", file=out)
        return 0

    reference, reference_note = None, None
    if args.background:
        if imported.family not in LINEAR:
            raise Refused("--background is for linear models: tree ensembles take their explanation covers from "
                          "the model")
        B, bg_notes = read_rows(args.background, features, "--background")
        notes += bg_notes
        refuse_missing(B, features, imported.kind, f"--background {args.background}")
        reference = B.mean(axis=0).tolist()
        reference_note = f"column means of {os.path.basename(args.background)} ({len(B)} rows)"
    elif imported.reference is not None:
        reference, reference_note = imported.reference, imported.reference_note

    doc = build_artifact(args, imported, features, feature_source, reference, reference_note, model_path)
    from scripts.loanmodel.export import MAX_ARTIFACT_BYTES, write_json
    target_dir = os.path.join(args.out, args.name)
    target = os.path.join(target_dir, f"{args.version}.json")
    if os.path.exists(target) and not args.force:
        raise Refused(f"{target} exists: a published version is never overwritten; pick another --version "
                      "(or --force)")
    created = not os.path.isdir(target_dir)
    os.makedirs(target_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{args.version}.", suffix=".json.tmp", dir=target_dir)
    os.close(fd)
    try:
        try:
            size = write_json(tmp, doc)
        except ValueError as e:  # NaN or Infinity in the booster document
            raise Refused(f"the model has a non-finite number: {e}") from None
        if size > MAX_ARTIFACT_BYTES:
            print(f"warning: the artifact is {size} bytes (the pipeline's own models stay under "
                  f"{MAX_ARTIFACT_BYTES})", file=out)
        print(f"{imported.kind}: {len(features)} features (names from {feature_source}), family {imported.family}",
              file=out)
        for n in notes:
            print(f"note: {n}", file=out)
        if imported.family in LINEAR:
            if reference is None:
                print("note: no explanation reference (training column means): the artifact scores but cannot "
                      "explain; give --background rows (e.g. the training set) to enable explanations", file=out)
            else:
                print(f"explanations: reference = {reference_note}", file=out)
        else:
            print("explanations: tree covers from the model", file=out)
        if X is not None:
            check(imported.family, imported, X, tmp, args.sample, out)
        else:
            print("WARNING: no --sample: nothing was checked; the service's predictions were NOT compared with "
                  "the library's. Run again with --sample rows.csv", file=out)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; an artifact is an ordinary file
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        if created and not os.path.exists(target):  # a refused or failed import leaves no empty folder either
            try:
                os.rmdir(target_dir)  # only when empty
            except OSError:
                pass
    print(f"wrote {target} ({size} bytes, sha256 {sha256_file(target)})", file=out)
    if not FAMILIES[imported.family]["accepts_missing"]:
        print("note: scikit-learn cannot score missing values: send this model complete rows", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

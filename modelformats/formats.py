"""Every model format the registry knows, in the order they are sniffed.

A format is a ``Format`` subclass (``sniff`` on the first bytes, ``check`` on the
whole file, ``load`` into a ``Predictor``) listed in ``FORMATS``. ONNX and skops are
accepted after a check; pickle and joblib are recognised and refused unless the
caller trusts pickle; safetensors is recognised and refused until it has a loader.
"""

from __future__ import annotations

import io
import pickletools
import re
import zipfile
from typing import Any

import numpy as np

from modelformats.base import ArtifactRefused, Format, LoadError, Trust
from modelformats.predictor import InputSpec, Predictor, PredictTimeout
from modelformats.watchdog import watchdog

HEAD_SIZE = 64


# --- ONNX ---------------------------------------------------------------------------

ONNX_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


class OnnxPredictor(Predictor):
    def __init__(self, path: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # No memory arena: a large request's intermediate tensors go back to the
        # system when it ends instead of staying reserved in the process (a 25,000
        # row run left 420 MB behind with the arena); small runs are as fast.
        options.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(
            path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        first = self.session.get_inputs()[0]
        if first.type not in ONNX_DTYPES:
            raise LoadError(f"input {first.name!r} has unsupported type {first.type}")
        shape = [d if isinstance(d, int) and d > 0 else None for d in first.shape]
        self.spec = InputSpec(first.name, ONNX_DTYPES[first.type], shape)
        self.output_names = [o.name for o in self.session.get_outputs()]

    def predict(
        self, batch: np.ndarray, *, timeout: float | None = None
    ) -> dict[str, Any]:
        feed = {self.spec.name: batch}
        if not timeout:
            results = self.session.run(None, feed)
            return dict(zip(self.output_names, results, strict=True))
        import onnxruntime as ort

        # onnxruntime checks RunOptions.terminate between nodes and ends the run
        # with an error: the thread is free again soon after the deadline.
        options = ort.RunOptions()
        handle = watchdog.arm(timeout, lambda: setattr(options, "terminate", True))
        try:
            results = self.session.run(None, feed, options)
        except Exception as exc:
            if options.terminate:
                raise PredictTimeout(timeout) from exc
            raise
        finally:
            watchdog.disarm(handle)
        return dict(zip(self.output_names, results, strict=True))


class Onnx(Format):
    name = "onnx"
    label = "ONNX"

    def sniff(self, head: bytes) -> bool:
        # ModelProto fields are serialised in field order: ir_version (field 1,
        # varint) comes first, so the file starts with tag 0x08 and a small number.
        return len(head) >= 4 and head[0] == 0x08 and 1 <= head[1] <= 64

    def check(self, path: str, *, trust: Trust) -> None:
        import onnx
        from onnx.external_data_helper import _get_all_tensors, uses_external_data

        try:
            model = onnx.load(path, load_external_data=False)
        except Exception as exc:
            raise ArtifactRefused(
                f"Not a valid ONNX model: {exc}", detected="onnx"
            ) from exc
        for tensor in _get_all_tensors(model):
            if uses_external_data(tensor):
                raise ArtifactRefused(
                    "ONNX models with external data are refused: tensor "
                    f"{tensor.name!r} points outside the file. Embed the weights.",
                    detected="onnx",
                )
        try:
            onnx.checker.check_model(model)
        except Exception as exc:
            raise ArtifactRefused(
                f"ONNX model failed the checker: {exc}", detected="onnx"
            ) from exc
        if not model.graph.input or not model.graph.output:
            raise ArtifactRefused(
                "ONNX model has no graph inputs or outputs.", detected="onnx"
            )

    def load(self, path: str, *, trust: Trust) -> Predictor:
        return OnnxPredictor(path)


# --- scikit-learn: skops, and pickle or joblib where trusted -------------------------


class SklearnPredictor(Predictor):
    def __init__(self, model: Any):
        self.model = model
        width = getattr(model, "n_features_in_", None)
        self.spec = InputSpec(
            "inputs", np.float64, [None, int(width) if width else None]
        )

    def predict(
        self, batch: np.ndarray, *, timeout: float | None = None
    ) -> dict[str, Any]:
        # scikit-learn offers no way to stop a call: it runs to its end (the
        # caller's element limit bounds its work).
        outputs: dict[str, Any] = {}
        if hasattr(self.model, "predict_proba") and hasattr(self.model, "classes_"):
            outputs["label"] = self.model.predict(batch)
            outputs["probabilities"] = self.model.predict_proba(batch)
        else:
            outputs["variable"] = self.model.predict(batch)
        return outputs


# Types that skops does not trust by default but that are plain data holders of
# scikit-learn estimators (trees, tree predictors, neighbour indexes): they
# construct no callables. Callers add more through ``Trust.skops_types``.
SKOPS_EXTRA_TRUSTED = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
)


def _skops_trusts(name: str, trust: Trust) -> bool:
    return name in SKOPS_EXTRA_TRUSTED or name in trust.skops_types


class Skops(Format):
    name = "skops"
    label = "skops"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"PK\x03\x04")

    def check(self, path: str, *, trust: Trust) -> None:
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile as exc:
            raise ArtifactRefused(
                f"Damaged zip archive: {exc}", detected="zip"
            ) from exc
        if "schema.json" not in names:
            raise ArtifactRefused(
                "A zip archive that is not a skops file (no schema.json).",
                detected="zip",
            )
        from skops.io import get_untrusted_types

        try:
            untrusted = get_untrusted_types(file=path)
        except Exception as exc:
            raise ArtifactRefused(
                f"Not a valid skops file: {exc}", detected="skops"
            ) from exc
        untrusted = [t for t in untrusted if not _skops_trusts(t, trust)]
        if untrusted:
            shown = ", ".join(sorted(untrusted)[:10])
            raise ArtifactRefused(
                f"skops file names untrusted types: {shown}", detected="skops"
            )

    def load(self, path: str, *, trust: Trust) -> Predictor:
        import skops.io

        untrusted = skops.io.get_untrusted_types(file=path)
        trusted = [t for t in untrusted if _skops_trusts(t, trust)]
        if len(trusted) != len(untrusted):
            raise LoadError("skops file names untrusted types")
        return SklearnPredictor(skops.io.load(path, trusted=trusted))


def _refused(fmt: Format) -> ArtifactRefused:
    return ArtifactRefused(
        f"Detected {fmt.label}: pickle-based files run code when loaded and are "
        "refused unless an admin allows them for this group. Export to ONNX or skops.",
        detected=fmt.name,
    )


class Pickle(Format):
    """Protocols 2 to 5, which open with a PROTO header (0x80)."""

    name = "pickle"
    label = "pickle"

    def sniff(self, head: bytes) -> bool:
        return (
            len(head) >= 2
            and head[0] == 0x80
            and 2 <= head[1] <= 5
            and b"joblib" not in head
        )

    def admit(self, trust: Trust) -> None:
        if not trust.pickle:
            raise _refused(self)

    def check(self, path: str, *, trust: Trust) -> None:
        self.admit(trust)

    def load(self, path: str, *, trust: Trust) -> Predictor:
        import joblib

        return SklearnPredictor(joblib.load(path))  # only for groups an admin trusts


class Joblib(Pickle):
    name = "joblib"
    label = "joblib (pickle, possibly compressed)"
    COMPRESSED = (
        b"\x78\x01",
        b"\x78\x5e",
        b"\x78\x9c",
        b"\x78\xda",
        b"\x1f\x8b",
        b"BZh",
        b"\xfd7zXZ\x00",
        b"\x04\x22\x4d\x18",
        b"ZF",
    )

    def sniff(self, head: bytes) -> bool:
        if (
            len(head) >= 2
            and head[0] == 0x80
            and 2 <= head[1] <= 5
            and b"joblib" in head
        ):
            return True
        return head.startswith(self.COMPRESSED)


_NAME = re.compile(rb"[A-Za-z_][\w.]*")
_OPCODES = {op.code: op for op in pickletools.opcodes}


class OldPickle(Pickle):
    """Protocols 0 and 1: no header, so the head must read as their opcodes."""

    label = "pickle (protocol 0 or 1)"

    def sniff(self, head: bytes) -> bool:
        """The head must read as a run of protocol 0/1 opcodes, to STOP or to the
        end of the head (which may cut one).

        A whole pickle must also pass pickletools' stack checks; a model pickles as
        an object, so a longer one opens with a GLOBAL (named like a module), a
        MARK, or an empty dict, list or tuple.
        """
        stream = io.BytesIO(head)
        complete, start = 0, 0
        try:
            for opcode, _arg, _pos in pickletools.genops(stream):
                if opcode.proto > 1:
                    return False
                complete, start = complete + 1, stream.tell()
                if opcode.name == "STOP":
                    return complete >= 2 and _stack_checks(head[:start])
        except Exception:  # noqa: S110 - pickletools says "not a pickle" by raising
            pass
        if head[:1] not in (b"c", b"(", b"}", b"]", b")") or stream.tell() < len(head):
            return False  # not an object, or an unknown opcode or bad argument
        if start == len(head):
            return complete >= 2  # the head ends between two opcodes
        cut = _OPCODES.get(chr(head[start]))
        if cut is None or cut.proto > 1:
            return False
        if cut.name == "GLOBAL":  # a module and a name, cut short
            named = [name for name in head[start + 1 :].split(b"\n") if name]
            return bool(named) and all(_NAME.fullmatch(name) for name in named)
        return complete >= 2


def _stack_checks(whole: bytes) -> bool:
    try:
        pickletools.dis(whole, out=io.StringIO())
    except Exception:  # a stack underflow, a mark never closed…
        return False
    return True


# --- recognised, not supported yet ----------------------------------------------------


class Safetensors(Format):
    name = "safetensors"
    label = "safetensors (not supported yet)"

    def sniff(self, head: bytes) -> bool:
        return len(head) > 9 and head[8:10] == b'{"'

    def admit(self, trust: Trust) -> None:
        raise _refused(self)

    def check(self, path: str, *, trust: Trust) -> None:
        self.admit(trust)


FORMATS: list[Format] = [
    Onnx(),
    Skops(),
    Pickle(),
    Joblib(),
    Safetensors(),
    OldPickle(),  # last: the text opcodes of protocol 0 are plain letters and digits
]


def detect(head: bytes) -> Format | None:
    """The first format whose sniff recognises ``head``, if any."""
    return next((fmt for fmt in FORMATS if fmt.sniff(head)), None)


def by_name(name: str) -> Format | None:
    return next((fmt for fmt in FORMATS if fmt.name == name), None)

"""Model file formats, decided from the bytes and never from the file name.

Each format is a ``Format`` with a ``sniff`` on the first bytes and a ``check`` on
the whole file. Add a format by appending to ``FORMATS``. This module imports no
Django so that it can run as a child process (``python -m catalog.formats PATH``)
with resource limits when a file is too large to parse in the web process.
"""

from __future__ import annotations

import io
import json
import os
import pickletools
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from catalog import sandbox

HEAD_SIZE = 64
# Types that skops does not trust by default but that are plain data holders of
# scikit-learn estimators (trees, tree predictors, neighbour indexes): they
# construct no callables. Extend with REGISTRY_SKOPS_TRUSTED_TYPES.
SKOPS_EXTRA_TRUSTED = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
)
_extra_trusted = {
    t.strip()
    for t in os.environ.get("REGISTRY_SKOPS_TRUSTED_TYPES", "").split(",")
    if t.strip()
}


class ArtifactRefused(Exception):
    """The bytes are not a model the registry accepts; the message says what was found."""

    def __init__(self, message: str, *, detected: str | None = None):
        super().__init__(message)
        self.message = message
        self.detected = detected


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    sniff: Callable[[bytes], bool]
    check: Callable[[str], None] | None
    safe: bool  # loading it cannot run arbitrary code


def _sniff_onnx(head: bytes) -> bool:
    # ModelProto fields are serialised in field order: ir_version (field 1, varint)
    # comes first, so the file starts with tag 0x08 and a small version number.
    return len(head) >= 4 and head[0] == 0x08 and 1 <= head[1] <= 64


def _check_onnx(path: str) -> None:
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


def _sniff_skops(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04")


def _check_skops(path: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise ArtifactRefused(f"Damaged zip archive: {exc}", detected="zip") from exc
    if "schema.json" not in names:
        raise ArtifactRefused(
            "A zip archive that is not a skops file (no schema.json).", detected="zip"
        )
    from skops.io import get_untrusted_types

    try:
        untrusted = get_untrusted_types(file=path)
    except Exception as exc:
        raise ArtifactRefused(
            f"Not a valid skops file: {exc}", detected="skops"
        ) from exc
    untrusted = [
        t for t in untrusted if t not in SKOPS_EXTRA_TRUSTED and t not in _extra_trusted
    ]
    if untrusted:
        shown = ", ".join(sorted(untrusted)[:10])
        raise ArtifactRefused(
            f"skops file names untrusted types: {shown}", detected="skops"
        )


def _sniff_pickle(head: bytes) -> bool:
    return (
        len(head) >= 2
        and head[0] == 0x80
        and 2 <= head[1] <= 5
        and b"joblib" not in head
    )


_NAME = re.compile(rb"[A-Za-z_][\w.]*")
_OPCODES = {op.code: op for op in pickletools.opcodes}


def _sniff_old_pickle(head: bytes) -> bool:
    """Pickle protocols 0 and 1 have no PROTO header (0x80): the head must read as a
    run of their opcodes, to STOP or to the end of the head (which may cut one).

    A whole pickle must also pass pickletools' stack checks; a model pickles as an
    object, so a longer one opens with a GLOBAL (named like a module), a MARK, or an
    empty dict, list or tuple.
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


def _sniff_joblib(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5 and b"joblib" in head:
        return True
    compressed = (
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
    return head.startswith(compressed)


def _sniff_safetensors(head: bytes) -> bool:
    return len(head) > 9 and head[8:10] == b'{"'


FORMATS: list[Format] = [
    Format("onnx", "ONNX", _sniff_onnx, _check_onnx, safe=True),
    Format("skops", "skops", _sniff_skops, _check_skops, safe=True),
    Format("pickle", "pickle", _sniff_pickle, None, safe=False),
    Format(
        "joblib",
        "joblib (pickle, possibly compressed)",
        _sniff_joblib,
        None,
        safe=False,
    ),
    Format(
        "safetensors",
        "safetensors (not supported yet)",
        _sniff_safetensors,
        None,
        safe=False,
    ),
    # Last: the text opcodes of protocol 0 are plain letters and digits.
    Format("pickle", "pickle (protocol 0 or 1)", _sniff_old_pickle, None, safe=False),
]
UNSAFE_ALLOWED = {"pickle", "joblib"}


def detect(head: bytes) -> Format | None:
    return next((fmt for fmt in FORMATS if fmt.sniff(head)), None)


def inspect(path: str, *, allow_pickle: bool = False) -> str:
    """Detect and check the file at ``path``; return the format name or raise."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_SIZE)
    if not head:
        raise ArtifactRefused("The artifact is empty.", detected="empty")
    fmt = detect(head)
    if fmt is None:
        raise ArtifactRefused(
            f"Unrecognised file format (first bytes {head[:8].hex()}); "
            "upload an ONNX or skops model.",
            detected="unknown",
        )
    if not fmt.safe:
        if allow_pickle and fmt.name in UNSAFE_ALLOWED:
            return fmt.name
        raise ArtifactRefused(
            f"Detected {fmt.label}: pickle-based files run code when loaded and are "
            "refused unless an admin allows them for this group. Export to ONNX or skops.",
            detected=fmt.name,
        )
    if fmt.check is not None:
        fmt.check(path)
    return fmt.name


def inspect_isolated(
    path: str, *, allow_pickle: bool = False, timeout: int = 300
) -> str:
    """``inspect`` in a child process with memory, CPU and time limits and no secrets."""
    size = os.path.getsize(path)
    memory = max(4 * size + 2 * 1024**3, 3 * 1024**3)
    args = [path, "--allow-pickle"] if allow_pickle else [path]
    try:
        outcome = sandbox.run("catalog.formats", args, timeout=timeout, memory=memory)
    except subprocess.TimeoutExpired as exc:
        raise ArtifactRefused(f"Checking the artifact took over {timeout} s.") from exc
    result = outcome.result
    if result is None:
        raise ArtifactRefused(
            f"Checking the artifact failed (exit code {outcome.returncode})."
        )
    if result.get("ok"):
        return str(result["format"])
    raise ArtifactRefused(
        result.get("message", "refused"), detected=result.get("detected")
    )


def _main(argv: list[str]) -> int:
    path = argv[0]
    try:
        name = inspect(path, allow_pickle="--allow-pickle" in argv)
    except ArtifactRefused as exc:
        print(
            json.dumps({"ok": False, "message": exc.message, "detected": exc.detected})
        )
        return 0
    except MemoryError:
        print(
            json.dumps(
                {"ok": False, "message": "Checking the artifact ran out of memory."}
            )
        )
        return 0
    print(json.dumps({"ok": True, "format": name}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

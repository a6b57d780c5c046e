"""What the limited child may touch on disk and on the network: Linux Landlock, or
bubblewrap where Landlock is missing.

The parent builds a Landlock ruleset before starting the child: read and execute
below the Python install and its site-packages, this package's own folder and the
system's library folders; read the artifact file only; read and write a private
scratch folder. Everything else on disk (the registry's data folder, its SQLite
file, ``secret_key``, other artifacts) answers ``PermissionError`` in the child.
Where the kernel knows them (Landlock ABI 4 and later) TCP connects and binds are
denied too, so the child cannot reach PostgreSQL or Redis over the network; from
ABI 6 it cannot signal processes outside its sandbox nor use abstract sockets.

The child enforces the ruleset on itself (``restrict`` runs between fork and
exec) and it cannot be lifted afterwards, also not by the model's code.

Where Landlock is missing (a kernel before 5.13, or Landlock not enabled),
``available()`` is 0. Then, where bubblewrap (``bwrap``) is installed and may make
namespaces, the child starts inside it (``wrapped``): a mount namespace holding only
the same folders and files, read-only but for the scratch folder, no network but a
loopback of its own, its own process, IPC and UTS namespaces, no capabilities.
Where neither is usable the child runs with its resource limits and a bare
environment only; ``describe()`` says so and the caller logs it once.

``choose`` picks one method instead of the first usable one (``auto``).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

# x86_64 and aarch64 share these numbers (the syscalls postdate the split tables).
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

READ = EXECUTE | READ_FILE | READ_DIR
SCRATCH = (
    READ
    | WRITE_FILE
    | REMOVE_DIR
    | REMOVE_FILE
    | MAKE_DIR
    | MAKE_REG
    | MAKE_SYM
    | REFER
    | TRUNCATE
)

_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

# Folders every Python process reads: the dynamic loader, shared libraries,
# locale and time zone data. Nothing of the registry lives here.
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache")
# Device files a numeric library may open; /proc for the process's own view.
SYSTEM_DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_abi: int | None = None


def available() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock cannot be used."""
    global _abi
    if _abi is None:
        if not sys.platform.startswith("linux"):
            _abi = 0
        else:
            version = _libc.syscall(
                _CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION
            )
            _abi = max(int(version), 0)
    return _abi


METHODS = ("auto", "landlock", "bubblewrap", "none")
_chosen = "auto"
_bwrap: str | None = None
_bwrap_seen = False


def choose(method: str) -> None:
    """Confine children with ``method`` (one of ``METHODS``) from now on."""
    global _chosen
    if method not in METHODS:
        raise ValueError(f"unknown confinement {method!r}: use one of {METHODS}")
    _chosen = method


def bubblewrap() -> str | None:
    """The path of a ``bwrap`` that works here, None where it is missing or cannot
    make its namespaces (user namespaces disabled, a container refusing them)."""
    global _bwrap, _bwrap_seen
    if not _bwrap_seen:
        found = shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")
        if found is not None:
            try:
                probe = subprocess.run(
                    [found, "--ro-bind", "/", "/", *_NAMESPACES, "true"],
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
            except (OSError, subprocess.SubprocessError):
                found = None
            else:
                found = found if probe.returncode == 0 else None
        _bwrap, _bwrap_seen = found, True
    return _bwrap


def usable(method: str) -> bool:
    if method == "landlock":
        return available() > 0
    if method == "bubblewrap":
        return bubblewrap() is not None
    return True


def method() -> str:
    """How children are confined here: ``landlock``, ``bubblewrap`` or ``none``.
    ``auto`` takes the first one this machine offers."""
    if _chosen != "auto":
        return _chosen
    if available():
        return "landlock"
    if bubblewrap() is not None:
        return "bubblewrap"
    return "none"


def describe() -> str:
    """One sentence on what protects the limited child on this machine."""
    how = method()
    if how == "landlock":
        abi = available()
        net = " and TCP" if abi >= 4 else ""
        return (
            f"Landlock ABI {abi}: the model child's file system{net} access is "
            "limited to the artifact, the Python install and a scratch folder"
        )
    if how == "bubblewrap":
        return (
            f"bubblewrap ({bubblewrap()}): the model child sees only the artifact, "
            "the Python install and a scratch folder, and has no network"
        )
    why = (
        "confinement is turned off (REGISTRY_SANDBOX=none)"
        if _chosen == "none"
        else "neither Landlock nor a working bubblewrap is available here"
    )
    return (
        f"{why}: the model child runs with resource limits and a bare environment "
        "only, and can read every file the service's user can read "
        "(see docs/isolation.md)"
    )


# Every namespace bwrap can make: mounts, processes, IPC, UTS, cgroups, network
# (a loopback of its own, nothing else) and, where allowed, users.
_NAMESPACES = ("--unshare-all", "--die-with-parent", "--cap-drop", "ALL")


def wrapped(
    command: list[str],
    *,
    read: Iterable[str],
    read_files: Iterable[str],
    scratch: Iterable[str],
) -> list[str]:
    """``command`` started inside bubblewrap, seeing the same folders and files
    ``ruleset`` would allow and nothing else: ``read`` and ``read_files``
    read-only, ``scratch`` writable (and its working folder), fresh ``/dev`` and
    ``/proc``."""
    found = bubblewrap()
    if found is None:
        raise OSError("bubblewrap (bwrap) is not usable on this machine")
    args = [found, *_NAMESPACES, "--dev", "/dev", "--proc", "/proc"]
    # Parents before the folders below them, so no bind hides a later one.
    for path in sorted({*read, *read_files}, key=lambda p: (p.count("/"), p)):
        args += ["--ro-bind-try", path, path]
    places = list(scratch)
    for path in places:
        args += ["--bind", path, path]
    if places:
        args += ["--chdir", places[0]]
    return [*args, "--", *command]


def _handled_fs(abi: int) -> int:
    handled = (1 << 13) - 1
    if abi >= 2:
        handled |= REFER
    if abi >= 3:
        handled |= TRUNCATE
    if abi >= 5:
        handled |= IOCTL_DEV
    return handled


def python_folders() -> list[str]:
    """The Python install, the virtual environment and its site-packages, plus this
    package's own folder. Not the source tree an editable install maps packages
    from, nor other import folders: those may hold the registry's data folder."""
    import site
    import sysconfig

    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        found.add(sysconfig.get_path(key))
    found.update(site.getsitepackages())
    found.add(str(Path(__file__).resolve().parent))
    found.add(str(Path(sys.executable).resolve().parent))
    return sorted(found)


def ruleset(
    *, read: Iterable[str], read_files: Iterable[str], scratch: Iterable[str]
) -> int | None:
    """A Landlock ruleset fd (close it after the child started), or None where
    Landlock is missing. ``read``: folders to read and execute below;
    ``read_files``: single files to read; ``scratch``: folders to write below."""
    abi = available()
    if not abi:
        return None
    handled_fs = _handled_fs(abi)
    attr = _RulesetAttr(
        handled_access_fs=handled_fs,
        handled_access_net=(_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0,
        scoped=(_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    fd = int(
        _libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    )
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in read:
            _allow(fd, path, READ & handled_fs)
        for path in read_files:
            _allow(fd, path, (EXECUTE | READ_FILE) & handled_fs)
        for path in SYSTEM_DEVICES:
            _allow(fd, path, (READ_FILE | WRITE_FILE) & handled_fs)
        for path in scratch:
            _allow(fd, path, SCRATCH & handled_fs)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _allow(ruleset_fd: int, path: str, access: int) -> None:
    try:
        target = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # /lib32 and the like: nothing to allow
    try:
        if not os.path.isdir(path):
            access &= FILE_ONLY
        rule = _PathBeneath(allowed_access=access, parent_fd=target)
        done = _libc.syscall(
            _ADD_RULE, ruleset_fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0
        )
        if done < 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(target)


def restrict(ruleset_fd: int) -> None:
    """In the child, before exec: let it read its own ``/proc/PID`` (a numeric
    library reads ``/proc/self/maps``; a rule made in the parent would name the
    parent's), then enforce the ruleset for good."""
    _allow(
        ruleset_fd,
        f"/proc/{os.getpid()}",
        (READ_FILE | READ_DIR) & _handled_fs(available()),
    )
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if _libc.syscall(_RESTRICT_SELF, ruleset_fd, 0) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")

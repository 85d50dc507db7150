"""Design files (``*.resnet.json``): strict parsing, canonical writing, atomic saves.

The file format is versioned and strict: unknown keys are errors that name the
key and suggest the nearest known one, so a typo never silently changes a
network. Files are data only; nothing in them is ever evaluated.
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from designer.core.design import (
    FORMAT,
    Design,
    DesignError,
    HeadSpec,
    InputSpec,
    StageSpec,
    StemSpec,
    validate,
)
from designer.core.fields import ROW, show

MAX_FILE_BYTES = 4 * 1024 * 1024
FILE_SUFFIX = ".resnet.json"


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


# the keys each object of a file may hold: its dataclass's fields, in file order
_TOP_KEYS = ("format", *_names(Design))
_INPUT_KEYS = _names(InputSpec)
_STEM_KEYS = _names(StemSpec)
_STAGE_KEYS = _names(StageSpec)
_HEAD_KEYS = _names(HeadSpec)


def _check_keys(path: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for key in data:
        if key not in known:
            label = key if str(key).isidentifier() and len(str(key)) <= 40 else show(key)
            where = f"{path}.{label}" if path else label
            near = nearest(str(key), known)
            hint = f" (did you mean '{near}'?)" if near else f" (known keys: {', '.join(known)})"
            raise DesignError(where, f"unknown key{hint}")


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: typos, including swapped letters, cost 1."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def nearest(word: str, candidates: tuple[str, ...] | list[str]) -> str | None:
    """The candidate ``word`` most likely meant, or None (case is ignored).

    A start of a name wins first (``se`` -> ``se_ratio``, ``resnext50`` ->
    ``resnext50_32x4d``; among several, the closest); else difflib's closest match,
    which weighs the letters in common rather than counting edits, so that a short
    word is not matched to any other short word (``se`` is not ``stem``).
    """
    if len(word) > 100 or not word:
        return None
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    key = word.lower()
    if key in by_lower:
        return by_lower[key]
    pool = list(by_lower)
    starting = [c for c in pool if c.startswith(key)] if len(key) >= 2 else []
    if starting:
        pool, cutoff = starting, 0.0
    else:
        cutoff = 0.6
    close = difflib.get_close_matches(key, pool, n=1, cutoff=cutoff)
    return by_lower[close[0]] if close else None


def _object(path: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DesignError(path, f"must be an object {{...}} (got {type(value).__name__})")
    return value


def _sub(
    path: str, data: Mapping[str, Any], known: tuple[str, ...], make: Callable[..., Any]
) -> Any:
    body = _object(path, data)
    _check_keys(path, body, known)
    return make(**body)


def design_from_dict(data: object) -> Design:
    """Parse a decoded JSON value into a validated design.

    An optional ``"$schema"`` (the JSON Schema's address, for editors) is accepted
    as any text and otherwise ignored: ``format`` says which files this version reads.
    """
    top = _object("", data)
    if SCHEMA_KEY in top:
        ref = top[SCHEMA_KEY]
        if not isinstance(ref, str) or len(ref) > MAX_SCHEMA_REF:
            raise DesignError(
                SCHEMA_KEY,
                f"must be the address of the file's JSON Schema, as text of at most"
                f" {MAX_SCHEMA_REF} characters (got {show(ref)})",
            )
        top = {key: value for key, value in top.items() if key != SCHEMA_KEY}
    _check_keys("", top, _TOP_KEYS)
    fmt = top.get("format", FORMAT)
    if fmt != FORMAT:
        raise DesignError(
            "format", f"unsupported format {show(fmt)}: this version reads {FORMAT!r} files"
        )
    if "stages" not in top:
        raise DesignError("stages", "missing: a design needs at least one stage")
    stages_raw = top["stages"]
    if not isinstance(stages_raw, list):
        raise DesignError("stages", "must be a list of stage objects")
    stages = []
    for i, raw in enumerate(stages_raw):
        body = _object(f"stages[{i}]", raw)
        _check_keys(f"stages[{i}]", body, _STAGE_KEYS)
        for required in ("depth", "width"):
            if required not in body:
                raise DesignError(f"stages[{i}].{required}", "missing")
        stages.append(StageSpec(**body))
    kwargs: dict[str, Any] = {k: v for k, v in top.items() if k not in ("format", "stages")}
    if "input" in top:
        kwargs["input"] = _sub("input", top["input"], _INPUT_KEYS, InputSpec)
    if "stem" in top:
        kwargs["stem"] = _sub("stem", top["stem"], _STEM_KEYS, StemSpec)
    if "head" in top:
        head = _object("head", top["head"])
        _check_keys("head", head, _HEAD_KEYS)
        hidden = head.get("hidden", [])
        if not isinstance(hidden, list):
            raise DesignError("head.hidden", "must be a list of widths, e.g. [512]")
        rest = {k: v for k, v in head.items() if k != "hidden"}
        kwargs["head"] = HeadSpec(hidden=tuple(hidden), **rest)
    return validate(Design(stages=tuple(stages), **kwargs))


def design_to_dict(design: Design) -> dict[str, Any]:
    """The canonical JSON form: every field written, in a fixed order.

    Fields the table marks ``when_set`` (those added after the format's first release,
    and a stage's overrides) are written only when they differ from their default,
    after the others, so a design that does not use them is the same file as before.
    """
    return {"format": FORMAT, **_object_to_dict(design)}


def _object_to_dict(obj: Any) -> dict[str, Any]:
    always: dict[str, Any] = {}
    when_set: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        row = f.metadata.get(ROW)
        if row is None:  # an object of the file, or the list of stages
            if isinstance(value, tuple):
                always[f.name] = [_object_to_dict(v) for v in value]
            else:
                always[f.name] = _object_to_dict(value)
        elif row.written == "always":
            always[f.name] = list(value) if isinstance(value, tuple) else value
        elif value != f.default:
            when_set[f.name] = value
    return {**always, **when_set}


SCHEMA_KEY = "$schema"
# A URL rather than a path: a saved design moves between folders and machines, and a
# relative path would name a schema beside every file (which is never there), an
# absolute one this machine's install. The format's version is in it, so a file of
# format 1 keeps pointing at the rules of format 1. resources/design.schema.json is
# the same document (its "$id"); editors that cannot fetch it map *.resnet.json to
# that file instead (README).
SCHEMA_URL = "https://resnet-designer.github.io/schema/resnet-designer-1.schema.json"
MAX_SCHEMA_REF = 2000


def dumps(design: Design, *, schema: bool = False) -> str:
    """The design file's text; with ``schema``, ``"$schema"`` first, as saved files have it.

    Without it the text is the design alone (``design_to_dict``), as embedded copies
    (model.py, weight metadata) and the presets keep it.
    """
    data = design_to_dict(design)
    if schema:
        data = {SCHEMA_KEY: SCHEMA_URL, **data}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# an integer literal longer than this is refused while parsing, before Python converts it
# (it refuses over 4,300 digits, naming a setting a user cannot reach); shorter ones reach
# the field table, which names the field whose bound they pass
MAX_INT_DIGITS = 4000


class _NotJson(ValueError):
    """What makes a text no JSON design file, in words, raised from inside the parser."""


def _reject_constant(token: str) -> float:
    raise _NotJson(f"{token} is not a number JSON allows")


def _bounded_int(digits: str) -> int:
    """An integer literal, refusing one longer than any field allows before converting it."""
    count = len(digits.lstrip("-"))
    if count > MAX_INT_DIGITS:
        raise _NotJson(
            f"an integer of {count:,} digits is far past every field's limit: write a smaller"
            " number"
        )
    return int(digits)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (json's default keeps the last silently)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _NotJson(f"the key {show(key)} appears twice in one object: keep one")
        data[key] = value
    return data


def loads(text: str) -> Design:
    try:
        data = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_bounded_int,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise DesignError("", f"not valid JSON: {exc.msg} at {where}") from None
    except RecursionError:
        raise DesignError("", "not valid JSON: nested too deeply") from None
    except _NotJson as exc:
        raise DesignError("", f"not valid JSON: {exc}") from None
    return design_from_dict(data)


def load(path: str | os.PathLike[str]) -> Design:
    """Read a design file; every failure is a DesignError with a one-line reason."""
    return loads(read_text_limited(path, MAX_FILE_BYTES, "design file"))


def read_text_limited(path: str | os.PathLike[str], limit: int, what: str) -> str:
    """A regular file's UTF-8 text, refusing anything else in one line, in bounded time.

    Never trusts ``st_size`` (0 for devices and FIFOs) and never blocks: the file is
    opened non-blocking, its type checked on the open descriptor, and at most
    ``limit + 1`` bytes are read.
    """
    file = Path(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(file, flags)
    except FileNotFoundError:
        raise DesignError("", f"{file}: no such file") from None
    except IsADirectoryError:
        raise DesignError("", f"{file}: is a folder, not a {what}") from None
    except OSError as exc:
        raise DesignError("", f"{file}: cannot read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise DesignError("", f"{file}: is a folder, not a {what}")
        if not stat.S_ISREG(mode):
            raise DesignError(
                "", f"{file}: is not a regular file (a device, pipe or socket); give a {what}"
            )
        raw = _read_at_most(fd, limit + 1)
    except OSError as exc:
        raise DesignError("", f"{file}: cannot read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise DesignError("", f"{file}: over {limit:,} bytes is too large for a {what}")
    return decode_text(raw, file, what)


def decode_text(raw: bytes, file: Path, what: str) -> str:
    """UTF-8 text (a byte-order mark allowed); UTF-16 and UTF-32 named as such."""
    encoding = _wide_encoding(raw)
    if encoding:
        raise DesignError(
            "", f"{file}: is {encoding} text: save the {what} as UTF-8 (every editor can)"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DesignError(
            "", f"{file}: not a UTF-8 text file (byte {exc.start + 1:,} is not UTF-8)"
        ) from None


def _wide_encoding(raw: bytes) -> str:
    """ "UTF-16"/"UTF-32" when ``raw`` is text in one (by its byte-order mark or zero bytes)."""
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    head = raw[:64]
    if len(head) < 4 or not head.strip(b"\x00"):
        return ""  # too short to tell, or zeros only: not text at all
    # ASCII in UTF-16 has a zero byte in every pair; in UTF-32, three in every four
    if head.count(0) * 4 >= len(head) * 3:
        return "UTF-32"
    if not any(head[0::2]) or not any(head[1::2]):
        return "UTF-16"
    return ""


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, total = [], 0
    while total < limit:
        chunk = os.read(fd, min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, backup: bool = True) -> None:
    """Write via a temp file, fsync and rename, so a crash never leaves half a file.

    With ``backup`` the previous version is kept beside it as ``NAME~``.
    """
    atomic_write(path, lambda handle: handle.write(data), backup=backup)


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[BinaryIO], object], *, backup: bool = True
) -> None:
    """As :func:`atomic_write_bytes`, with ``write(handle)`` streaming the content.

    Exports pass a writer so that gigabytes of weights go to disk tensor by tensor
    instead of being assembled in memory first.
    """
    target = Path(path)
    refuse_special(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600 files: give the result the usual (or the previous) mode
        _set_mode(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if backup and target.is_file():
            _backup(target)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


NOT_A_FILE = "is not a regular file (a device, pipe or socket): give a file name"


def refuse_special(target: Path) -> None:
    """Never replace a device, FIFO or socket with a file: renaming over /dev/null as root
    would take the device away from every program on the machine."""
    try:
        mode = os.lstat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode) or stat.S_ISDIR(mode)):
        raise OSError(errno.EEXIST, NOT_A_FILE, str(target))


def _backup(target: Path) -> None:
    """Keep the current version as ``NAME~``, atomically: a reader never sees it half-copied."""
    backup = target.with_name(target.name + "~")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{backup.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copy2(target, tmp_name)
        os.replace(tmp_name, backup)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    """The process umask, without the set-and-restore race of os.umask where avoidable."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0)  # once, at import, before any worker thread writes files
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def _set_mode(fd: int, mode: int) -> None:
    """Give the open file ``mode`` where the platform can; never fail a save over it.

    ``os.fchmod`` is POSIX (on Windows only from Python 3.13, where a mode is just the
    read-only flag, which a new temporary file never has); a file system without modes
    (FAT, some network shares) refuses it. Either way the content still gets written.
    """
    fchmod = getattr(os, "fchmod", None)
    if fchmod is None:
        return
    try:
        fchmod(fd, mode)
    except OSError:
        return  # the file keeps mkstemp's 0600: private, and its owner can still read it


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_UMASK


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(design: Design, path: str | os.PathLike[str]) -> None:
    atomic_write_bytes(path, dumps(design, schema=True).encode("utf-8"))

"""The `.sima` model file: a versioned zip archive that never holds a pickle.

    save_module("net.sima", module, {"model_name": "net"})
    module, metadata = load_module("net.sima")

Layout of the archive (stdlib `zipfile`):

    manifest.json     format name and version, the producer's version, the
                      caller's metadata, and one entry per distinct weight
                      (name, dtype, shape, digest, member)
    module.mlir       the IR in MLIR's generic form, weights elided
                      (`#sima.ndarray<"w", tensor<...>, elided "digest">`)
    weights/<i>.npy   one NumPy array per distinct weight, written and read
                      with allow_pickle=False

Loading reads JSON, MLIR text and `.npy` arrays of plain numeric dtypes only,
so opening a file can never run code: an array of Python objects (a pickle
payload) is refused before NumPy would unpickle it. Every weight is checked
against its digest, and the elided attributes of the parsed IR are re-attached
to their arrays by name and digest, so the loaded module is the saved one, bit
for bit. Saving writes a temporary file in the target's directory, fsyncs it
and renames it over the target: a crash mid-save leaves the old file intact.

Every problem is a `UserFacingException` (MODEL_SAVE / MODEL_LOAD) naming the
file and the member or weight at fault.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import ml_dtypes
import numpy as np
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp
from xdsl.ir import Attribute, ParametrizedAttribute
from xdsl.parser import Parser
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException

from afe.apis.errors import ExceptionFuncType, UserFacingException
from sima_dialect.context import sima_context
from sima_dialect.element_types import element_type_to_numpy, numpy_to_element_type
from sima_dialect.weights import NDArrayAttr, WeightData, content_digest, ir_text

FORMAT_NAME = "sima-model"
# Bump when a reader of the previous version could not read the new files.
FORMAT_VERSION = 1

MANIFEST_MEMBER = "manifest.json"
MODULE_MEMBER = "module.mlir"
WEIGHTS_PREFIX = "weights/"

_MAX_MANIFEST_BYTES = 64 << 20  # far above any real manifest; keeps a crafted one from eating memory
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same model gives the same bytes
_NPY_MAGIC = b"\x93NUMPY"

# Element dtypes a weight may have, by name. ml_dtypes' bfloat16 is no NumPy
# builtin (np.save writes it as raw 'V2'), so such dtypes are stored as the
# unsigned integers of their bits and viewed back on load.
_WEIGHT_DTYPES: dict[str, np.dtype] = {}
for _candidate in (np.float32, np.float64, np.float16, ml_dtypes.bfloat16, np.bool_, np.int8, np.int16, np.int32, np.int64):
    with contextlib.suppress(ValueError):
        numpy_to_element_type(_candidate)
        _WEIGHT_DTYPES[np.dtype(_candidate).name] = np.dtype(_candidate)


def _storage_dtype(dtype: np.dtype) -> np.dtype:
    """The NumPy builtin dtype a weight of `dtype` is stored as in its `.npy`."""
    return np.dtype(f"<u{dtype.itemsize}") if dtype.kind == "V" else dtype.newbyteorder("<")


def producer_version() -> str:
    try:
        return importlib.metadata.version("sima-quantizer")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------------------
# weights inside a module


def map_weights(module: ModuleOp, replace: Callable[[NDArrayAttr], NDArrayAttr]) -> None:
    """Call `replace` on every `#sima.ndarray` of every op (properties, attributes,
    and attributes nested in arrays, dictionaries or parametrized attributes), in
    IR order, and put back what it returns where it differs."""
    for op in module.walk():
        for table in (op.properties, op.attributes):
            for key, value in list(table.items()):
                new = _map_attribute(value, replace)
                if new is not value:
                    table[key] = new


def _map_attribute(attr: Attribute, replace: Callable[[NDArrayAttr], NDArrayAttr]) -> Attribute:
    if isinstance(attr, NDArrayAttr):
        return replace(attr)
    if isinstance(attr, ArrayAttr):
        items = [_map_attribute(item, replace) for item in attr.data]
        return attr if all(a is b for a, b in zip(items, attr.data)) else ArrayAttr(items)
    if isinstance(attr, DictionaryAttr):
        entries = {key: _map_attribute(value, replace) for key, value in attr.data.items()}
        return attr if all(entries[k] is v for k, v in attr.data.items()) else DictionaryAttr(entries)
    if isinstance(attr, ParametrizedAttribute):
        params = [_map_attribute(param, replace) for param in attr.parameters]
        return attr if all(a is b for a, b in zip(params, attr.parameters)) else type(attr).new(params)
    return attr


def attach_weights(module: ModuleOp, arrays: Mapping[tuple[str, str], np.ndarray]) -> None:
    """Replace every elided `#sima.ndarray` of `module` (parsed from elided text)
    by one holding its array, found in `arrays` by (weight name, digest).

    Raises ValueError naming the weight if it is missing or its array does not
    fit the attribute's tensor type.
    """

    def attach(attr: NDArrayAttr) -> NDArrayAttr:
        payload = attr.data
        if not payload.is_elided:
            return attr
        key = (payload.name, payload.digest)
        if key not in arrays:
            raise ValueError(f"no data for weight '{payload.name}' (digest {payload.digest})")
        array = arrays[key]
        expected_dtype = element_type_to_numpy(payload.tensor_type.element_type)
        expected_shape = tuple(payload.tensor_type.get_shape())
        if array.dtype != expected_dtype or tuple(array.shape) != expected_shape:
            raise ValueError(
                f"weight '{payload.name}' is {array.dtype} {list(array.shape)}, "
                f"but the IR declares {payload.tensor_type}"
            )
        if array.flags.writeable:
            array = np.array(array, order="C", copy=True)
            array.flags.writeable = False
        return NDArrayAttr(WeightData(payload.name, payload.tensor_type, array, payload.digest))

    map_weights(module, attach)


# ---------------------------------------------------------------------------------
# the manifest


@dataclass(frozen=True)
class WeightEntry:
    """One distinct weight of the archive, as the manifest lists it."""

    name: str
    dtype: str  # element dtype name ("float32", "bfloat16", ...)
    shape: tuple[int, ...]
    digest: str  # the `#sima.ndarray` content digest
    member: str  # "weights/<index>.npy"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "digest": self.digest, "member": self.member}

    @staticmethod
    def from_json(value: Any, index: int) -> WeightEntry:
        def bad(why: str) -> ValueError:
            return ValueError(f"weight entry {index} of the manifest {why}")

        if not isinstance(value, dict):
            raise bad("is not an object")
        fields = {"name": str, "dtype": str, "shape": list, "digest": str, "member": str}
        for key, kind in fields.items():
            if not isinstance(value.get(key), kind):
                raise bad(f"has no valid '{key}'")
        shape = value["shape"]
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise bad(f"has an invalid shape {shape}")
        if not value["member"].startswith(WEIGHTS_PREFIX):
            raise bad(f"names member '{value['member']}' outside {WEIGHTS_PREFIX}")
        return WeightEntry(value["name"], value["dtype"], tuple(shape), value["digest"], value["member"])


# ---------------------------------------------------------------------------------
# saving


def save_module(path: str | os.PathLike[str], module: ModuleOp, metadata: Mapping[str, Any] | None = None) -> None:
    """Write `module` (weights included) and JSON-serializable `metadata` to the
    `.sima` file `path`, atomically: the old file, if any, stays intact until the
    new one is complete on disk."""
    path = os.fspath(path)

    def fail(message: str) -> UserFacingException:
        return UserFacingException(f"'{path}': {message}", ExceptionFuncType.MODEL_SAVE)

    if not isinstance(module, ModuleOp):
        raise fail(f"expected a builtin.module, got {type(module).__name__}")
    metadata = dict(metadata or {})
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise fail(f"the metadata is not plain JSON (str keys; str, number, bool, None, list, dict values): {error}") from None

    entries, arrays = _collect_weights(module, fail)
    # The generic form parses back through the generic machinery alone,
    # whatever the ops' custom syntax does.
    text = ir_text(module, generic=True)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "producer": {"name": "sima-quantizer", "version": producer_version(), "xdsl": _xdsl_version()},
        "metadata": metadata,
        "module": MODULE_MEMBER,
        "weights": [entry.to_json() for entry in entries],
    }
    try:
        with atomic_output(path) as output, zipfile.ZipFile(output, "w", allowZip64=True) as archive:
            _write_member(archive, MANIFEST_MEMBER, json.dumps(manifest, indent=1, allow_nan=False).encode())
            _write_member(archive, MODULE_MEMBER, text.encode())
            for entry, array in zip(entries, arrays):
                info = zipfile.ZipInfo(entry.member, _ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_STORED  # weights hardly compress; storing keeps saving fast
                with archive.open(info, "w", force_zip64=array.nbytes > (1 << 31)) as member:
                    np.save(member, array, allow_pickle=False)
    except OSError as error:
        raise fail(f"cannot write the file: {error.strerror or error}") from None


def _collect_weights(module: ModuleOp, fail: Callable[[str], Exception]) -> tuple[list[WeightEntry], list[np.ndarray]]:
    """The distinct weights of `module` in IR order, and each one's storage array."""
    entries: list[WeightEntry] = []
    arrays: list[np.ndarray] = []
    seen: set[tuple[str, str]] = set()

    def collect(attr: NDArrayAttr) -> NDArrayAttr:
        payload = attr.data
        if payload.is_elided:
            raise fail(f"weight '{payload.name}' has no data (the module was parsed from IR printed with weights elided)")
        key = (payload.name, payload.digest)
        if key not in seen:
            seen.add(key)
            array = payload.array
            member = f"{WEIGHTS_PREFIX}{len(entries)}.npy"
            entries.append(WeightEntry(payload.name, array.dtype.name, tuple(array.shape), payload.digest, member))
            arrays.append(_storage_array(array))
        return attr

    map_weights(module, collect)
    return entries, arrays


def _storage_array(array: np.ndarray) -> np.ndarray:
    """`array` as the little-endian NumPy builtin dtype its `.npy` holds (a view where possible)."""
    data = np.asarray(array, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
    storage = _storage_dtype(data.dtype)
    return data.view(storage) if data.dtype.kind == "V" else data.astype(storage, copy=False)


def _write_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, _ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _xdsl_version() -> str:
    try:
        return importlib.metadata.version("xdsl")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary file that replaces `path` only once the block completes.

    The data goes to a temporary file beside `path` (same file system, so the
    rename is atomic), is fsynced, then renamed over `path`; the directory is
    fsynced so the rename itself survives a power loss. If the block raises,
    the temporary file is removed and `path` is untouched.
    """
    path = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{base}.", suffix=".partial", dir=directory)
    try:
        with os.fdopen(fd, "wb") as output:
            yield output
            output.flush()
            os.fchmod(output.fileno(), _new_file_mode(path))
            os.fsync(output.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _new_file_mode(path: str) -> int:
    """The mode the saved file gets: the replaced file's, else what open() would give."""
    with contextlib.suppress(FileNotFoundError):
        return stat.S_IMODE(os.stat(path).st_mode)
    return 0o666 & ~_umask()


def _umask() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # the portable way to read it is to set it
    os.umask(mask)
    return mask


def _fsync_directory(directory: str) -> None:
    with contextlib.suppress(OSError):  # not every platform or file system can fsync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------------
# loading


class _LoadError(Exception):
    """A problem with the file's content, reported as a MODEL_LOAD error."""


def load_module(path: str | os.PathLike[str]) -> tuple[ModuleOp, dict[str, Any]]:
    """Read a `.sima` file: its verified module, weights attached, and its metadata."""
    path = os.fspath(path)
    try:
        return _load(path)
    except _LoadError as error:
        raise UserFacingException(f"'{path}': {error}", ExceptionFuncType.MODEL_LOAD) from None
    except OSError as error:
        raise UserFacingException(f"'{path}': cannot read the file: {error.strerror or error}", ExceptionFuncType.MODEL_LOAD) from None


def _load(path: str) -> tuple[ModuleOp, dict[str, Any]]:
    with open(path, "rb") as file:
        head = file.read(4)
        try:
            archive = zipfile.ZipFile(file)
        except zipfile.BadZipFile:
            if head.startswith(b"PK"):
                raise _LoadError("the file is truncated or corrupt (its zip directory is unreadable)") from None
            raise _LoadError("not a .sima model file (it is not a zip archive)") from None
        with archive:
            names = archive.namelist()
            if len(set(names)) != len(names):
                raise _LoadError("the archive holds several members of the same name")
            manifest, entries = _read_manifest(archive)
            arrays = {}
            for entry in entries:
                key = (entry.name, entry.digest)
                if key in arrays:
                    raise _LoadError(f"the manifest lists weight '{entry.name}' (digest {entry.digest}) twice")
                arrays[key] = _read_weight(archive, entry)
            text = _read_member(archive, MODULE_MEMBER).decode("utf-8", errors="replace")
    module = _parse(text)
    used: set[tuple[str, str]] = set()

    def note(attr: NDArrayAttr) -> NDArrayAttr:
        used.add((attr.data.name, attr.data.digest))
        return attr

    map_weights(module, note)
    missing = [f"'{name}' (digest {digest})" for name, digest in sorted(used - arrays.keys())]
    if missing:
        raise _LoadError(f"{MODULE_MEMBER} uses weight{'s' if len(missing) > 1 else ''} {', '.join(missing)} that the archive does not hold")
    unused = [name for name, digest in arrays if (name, digest) not in used]
    if unused:
        raise _LoadError(f"the manifest lists weight{'s' if len(unused) > 1 else ''} {', '.join(repr(n) for n in unused)} that {MODULE_MEMBER} does not use")
    try:
        attach_weights(module, arrays)
    except ValueError as error:
        raise _LoadError(f"{MODULE_MEMBER} does not match the stored weights: {error}") from None
    try:
        module.verify()
    except (VerifyException, DiagnosticException) as error:
        raise _LoadError(f"the saved IR does not verify: {error}") from None
    return module, manifest["metadata"]


def _read_member(archive: zipfile.ZipFile, name: str, limit: int | None = None) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _LoadError(f"the archive has no '{name}' (the file is incomplete or not a .sima model)") from None
    if limit is not None and info.file_size > limit:
        raise _LoadError(f"member '{name}' is {info.file_size} bytes, more than it can validly hold ({limit})")
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise _LoadError(f"member '{name}' is truncated or corrupt ({error})") from None
    except NotImplementedError as error:  # an unknown compression method
        raise _LoadError(f"member '{name}' cannot be read: {error}") from None


def _read_manifest(archive: zipfile.ZipFile) -> tuple[dict[str, Any], list[WeightEntry]]:
    raw = _read_member(archive, MANIFEST_MEMBER, limit=_MAX_MANIFEST_BYTES)
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _LoadError(f"{MANIFEST_MEMBER} is not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise _LoadError(f"not a .sima model file ({MANIFEST_MEMBER} does not name the format '{FORMAT_NAME}')")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _LoadError(f"{MANIFEST_MEMBER} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        producer = manifest.get("producer")
        by = f" by sima-quantizer {producer.get('version')}" if isinstance(producer, dict) and producer.get("version") else ""
        raise _LoadError(
            f"the file was written{by} in .sima format version {version}, but this sima-quantizer "
            f"({producer_version()}) reads versions up to {FORMAT_VERSION}: upgrade sima-quantizer to load it"
        )
    if not isinstance(manifest.get("metadata"), dict):
        raise _LoadError(f"{MANIFEST_MEMBER} has no metadata object")
    if not isinstance(manifest.get("weights"), list):
        raise _LoadError(f"{MANIFEST_MEMBER} has no weight list")
    try:
        entries = [WeightEntry.from_json(value, i) for i, value in enumerate(manifest["weights"])]
    except ValueError as error:
        raise _LoadError(str(error)) from None
    return manifest, entries


def _read_weight(archive: zipfile.ZipFile, entry: WeightEntry) -> np.ndarray:
    """The array of `entry`, checked against its dtype, shape and digest."""
    where = f"weight '{entry.name}' ({entry.member})"
    dtype = _WEIGHT_DTYPES.get(entry.dtype)
    if dtype is None:
        raise _LoadError(f"{where} has dtype '{entry.dtype}', which no sima tensor has")
    # the .npy header is far below 64 KiB: a bigger member is not this array
    expected_bytes = int(np.prod(entry.shape, dtype=np.int64)) * dtype.itemsize
    raw = _read_member(archive, entry.member, limit=expected_bytes + (64 << 10))
    if not raw.startswith(_NPY_MAGIC):
        raise _LoadError(f"{where} is not a .npy array file")
    try:
        # allow_pickle=False: an object array (a pickle payload) raises here,
        # before NumPy unpickles anything.
        stored = np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise _LoadError(f"{where} holds Python objects (a pickle payload), which a .sima file never does; refused") from None
        raise _LoadError(f"{where} is not a valid .npy array ({error})") from None
    except EOFError as error:
        raise _LoadError(f"{where} is truncated ({error})") from None
    storage = _storage_dtype(dtype)
    if stored.dtype.newbyteorder("<") != storage:
        raise _LoadError(f"{where} is stored as {stored.dtype}, but the manifest says {entry.dtype} (stored as {storage})")
    if tuple(stored.shape) != entry.shape:
        raise _LoadError(f"{where} has shape {list(stored.shape)}, but the manifest says {list(entry.shape)}")
    array = np.asarray(stored.astype(storage.newbyteorder("="), copy=False), order="C").view(dtype)
    digest = content_digest(array)
    if digest != entry.digest:
        raise _LoadError(f"{where} does not match its digest ({digest} != {entry.digest}): the file is corrupt")
    array.flags.writeable = False
    return array


def _parse(text: str) -> ModuleOp:
    try:
        module = Parser(sima_context(), text, name=MODULE_MEMBER).parse_module()
    except (ParseError, DiagnosticException) as error:
        raise _LoadError(f"{MODULE_MEMBER} does not parse: {error}") from None
    if not isinstance(module, ModuleOp):
        raise _LoadError(f"{MODULE_MEMBER} does not hold a builtin.module")
    return module

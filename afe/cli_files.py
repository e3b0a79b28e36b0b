"""The files the `afe` commands read and write: ONNX and `.sima` models, `.npz` sample sets.

A sample file is a NumPy `.npz` archive holding one array per model input,
named as the input, with the samples stacked along the first axis. 4-D
(image) inputs are NHWC, as `LoadedNet.execute` takes them: an input of shape
[1, 48, 192, 3] is fed from an array [N, 48, 192, 3] (or [N, 1, 48, 192, 3]).
Arrays whose names are not inputs (labels, say) are ignored. Outputs are
written the same way: one array per output, one row per sample.

Every problem is a `UserFacingException` whose message names the option, the
file and the input at fault.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from afe.apis.errors import UserFacingException

if TYPE_CHECKING:
    from afe.apis.loaded_net import LoadedNet
    from afe.apis.model import Model

InputTypes = Mapping[str, tuple[tuple[int, ...], np.dtype]]  # name -> (shape, dtype), as execute takes them


def _fail(message: str) -> UserFacingException:
    return UserFacingException(message)


def existing_file(path: str, option: str, suffixes: Sequence[str]) -> Path:
    """`path` as a Path, checked to be an existing file whose name ends in one of `suffixes`."""
    file = Path(path)
    if not file.is_file():
        raise _fail(f"{option} '{path}': no such file" if not file.exists() else f"{option} '{path}': not a file")
    if not any(file.name.endswith(suffix) for suffix in suffixes):
        raise _fail(f"{option} '{path}': expected a {' or '.join(suffixes)} file")
    return file


# -- sample files ------------------------------------------------------------------------


def read_npz(path: str, option: str) -> dict[str, np.ndarray]:
    """Every array of the `.npz` file at `path` (read with allow_pickle=False)."""
    file = existing_file(path, option, (".npz",))
    try:
        with np.load(file, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise _fail(f"{option} '{path}': not a readable .npz file ({error})") from None
    if not arrays:
        raise _fail(f"{option} '{path}': the file holds no arrays")
    return arrays


def _sample_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The shapes one sample of an input of `shape` may have in a sample file."""
    shapes = [shape]
    if shape and shape[0] == 1:
        shapes.append(shape[1:])  # samples stacked along the batch axis
    return shapes


def samples_from_arrays(
    arrays: Mapping[str, np.ndarray], input_types: InputTypes, *, path: str, option: str, limit: int | None = None
) -> list[dict[str, np.ndarray]]:
    """The samples of a sample file: one `{input: array}` per row, each array
    of exactly the shape and dtype in `input_types`; the first `limit` only."""
    counts: dict[str, int] = {}
    per_input: dict[str, np.ndarray] = {}
    for name, (shape, dtype) in input_types.items():
        layout = " (NHWC)" if len(shape) == 4 else ""
        if name not in arrays:
            held = ", ".join(repr(n) for n in arrays)
            raise _fail(
                f"{option} '{path}': no array for input '{name}' (the file holds {held}); "
                f"store the samples of '{name}' as an array [N, {', '.join(map(str, shape[1:]))}]{layout}"
            )
        array = arrays[name]
        accepted = _sample_shapes(tuple(shape))
        if array.ndim == 0 or tuple(array.shape[1:]) not in accepted:
            wanted = " or ".join(f"[N, {', '.join(map(str, s))}]" for s in reversed(accepted))
            raise _fail(f"{option} '{path}': array '{name}' has shape {list(array.shape)}; input '{name}' takes {wanted}{layout}")
        if not np.can_cast(array.dtype, dtype, casting="same_kind"):
            raise _fail(f"{option} '{path}': array '{name}' has dtype {array.dtype}; input '{name}' takes {dtype}")
        per_input[name] = array.astype(dtype, copy=False).reshape((array.shape[0], *shape))
        counts[name] = array.shape[0]
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"'{n}': {c}" for n, c in counts.items())
        raise _fail(f"{option} '{path}': the inputs hold different numbers of samples ({listed})")
    count = next(iter(counts.values()), 0)
    if count == 0:
        raise _fail(f"{option} '{path}': the file holds no samples")
    if limit is not None:
        count = min(count, limit)
    return [{name: np.ascontiguousarray(values[index]) for name, values in per_input.items()} for index in range(count)]


def read_samples(path: str, input_types: InputTypes, *, option: str, limit: int | None = None) -> list[dict[str, np.ndarray]]:
    """The samples of the sample file at `path` for a model with `input_types`."""
    return samples_from_arrays(read_npz(path, option), input_types, path=path, option=option, limit=limit)


def write_outputs(path: str, output_names: Sequence[str], outputs: Sequence[Sequence[np.ndarray]], option: str = "-o") -> None:
    """Write one array per output, the samples' outputs stacked along a new first axis
    (for an output [1, 2], an array [N, 1, 2])."""
    stacked = {name: np.stack([sample[index] for sample in outputs]) for index, name in enumerate(output_names)}
    directory = os.path.dirname(path)
    try:
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "wb") as file:
            np.savez(file, **stacked)
    except OSError as error:
        raise _fail(f"{option} '{path}': cannot write the file: {error.strerror or error}") from None


# -- models ------------------------------------------------------------------------------


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """`NAME=D0,D1,...` (an --input-shape value) as (name, shape)."""
    name, _, dims = text.rpartition("=")
    try:
        shape = tuple(int(d) for d in dims.split(","))
    except ValueError:
        shape = ()
    if not name or not shape or any(d <= 0 for d in shape):
        raise _fail(f"--input-shape '{text}': expected NAME=D0,D1,... with positive dimensions, e.g. x=1,3,224,224")
    return name, shape


def _onnx_inputs(path: Path) -> dict[str, tuple[list[int | None], np.dtype]]:
    """The ONNX graph's inputs (initializers excluded): name -> (dims, None where dynamic; dtype)."""
    import onnx
    from onnx.helper import tensor_dtype_to_np_dtype

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises DecodeError, ValueError, ... for a bad file
        raise _fail(f"'{path}': not a readable ONNX model ({type(error).__name__}: {error})") from None
    initializers = {init.name for init in model.graph.initializer}
    inputs = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor.shape.dim]
        try:
            dtype = np.dtype(tensor_dtype_to_np_dtype(tensor.elem_type))
        except (KeyError, TypeError, ValueError):
            dtype = np.dtype(np.float32)
        inputs[value.name] = (dims, dtype)
    return inputs


def onnx_input_shapes(
    path: Path, given: Mapping[str, tuple[int, ...]], arrays: Mapping[str, np.ndarray] | None
) -> tuple[dict[str, tuple[int, ...]], dict[str, np.dtype]]:
    """The shape (in the model's own layout, NCHW for images) and dtype of every
    input of the ONNX model at `path`.

    A shape comes from --input-shape (`given`), else from the model; its
    dynamic dimensions are then filled in: a leading (batch) one with 1, the
    others from the sample arrays (4-D samples are NHWC, the model's input NCHW).
    """
    inputs = _onnx_inputs(path)
    unknown = sorted(set(given) - set(inputs))
    if unknown:
        raise _fail(f"--input-shape: the model has no input {', '.join(repr(n) for n in unknown)} (its inputs: {', '.join(inputs)})")
    shapes = {}
    for name, (dims, _) in inputs.items():
        if name in given:
            shapes[name] = tuple(given[name])
            continue
        dims = list(dims)
        if dims and dims[0] is None:
            dims[0] = 1
        if None in dims and arrays is not None and name in arrays:
            dims = _dims_from_samples(dims, arrays[name])
        if None in dims:
            shown = ",".join("?" if d is None else str(d) for d in dims)
            if arrays is not None and name not in arrays:
                held = ", ".join(repr(n) for n in arrays)
                raise _fail(
                    f"input '{name}' of '{path}' has dynamic dimensions [{shown}] and the data has no array "
                    f"'{name}' to read them from (it holds {held}); name the array as the input"
                )
            raise _fail(
                f"input '{name}' of '{path}' has dynamic dimensions [{shown}]; give its shape with "
                f"--input-shape {name}={','.join('D' if d is None else str(d) for d in dims)} (the model's layout, NCHW for images)"
            )
        shapes[name] = tuple(dims)
    return shapes, {name: dtype for name, (_, dtype) in inputs.items()}


def _dims_from_samples(dims: list[int | None], samples: np.ndarray) -> list[int | None]:
    """`dims` with the dynamic ones read off a sample array [N, ...] (4-D: NHWC samples of an NCHW input)."""
    sample = tuple(samples.shape[1:])
    if len(sample) == len(dims) and sample[0] == 1:
        sample = sample[1:]
    if len(sample) != len(dims) - 1:
        return dims  # not of the input's rank: the sample checks will report it
    in_model_layout = (sample[2], sample[0], sample[1]) if len(dims) == 4 else sample
    return [dims[0], *(d if d is not None else s for d, s in zip(dims[1:], in_model_layout))]


def load_onnx(
    path: str, given_shapes: Mapping[str, tuple[int, ...]] = {}, arrays: Mapping[str, np.ndarray] | None = None
) -> LoadedNet:
    """The ONNX model at `path`, imported (see `onnx_input_shapes` for its input shapes)."""
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source

    file = existing_file(path, "MODEL", (".onnx",))
    shapes, dtypes = onnx_input_shapes(file, given_shapes, arrays)
    return load_model(onnx_source(str(file), shapes, dtypes))


def load_sima(path: str) -> Model:
    """The quantized model saved at `path` (a `.sima` file)."""
    from afe.apis.model import Model

    file = existing_file(path, "MODEL", (".sima",))
    return Model.load(file.name, str(file.parent))

"""The `.sima` model file: save -> load gives the same module, bit for bit; saving
is atomic; loading never runs code; every damaged file gets a clear error."""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from xdsl.dialects.builtin import ModuleOp
from xdsl.printer import Printer

from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.serialization import FORMAT_VERSION, load_module, model_file_paths, save_model_files, save_module
from afe.serialization.sima_file import map_weights
from models import REAL_MODELS, load_real_net, real_inputs
from runtime.interpreter import Interpreter
from sima_dialect.context import parse_module
from sima_dialect.weights import NDArrayAttr, print_weights_in_full

# Weights of every element type a sima tensor has, a quantized weight, the same
# weight in two constants, two weights with the same name and different data, a dense<>
# constant, and a named input: the parts a saved IR must keep.
SMALL_MODEL = """
func.func @main(%x: tensor<1x4x4x3xf32> {sima.name = "image"}, %y: tensor<4xf32>) -> (tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xi32>, tensor<2x!sima.quant<i8, 0.03125:-3>>) {
  %w = sima.constant #sima.ndarray<"conv.weight", tensor<3x3x3x4xf32>, "@conv_weight@">
  %b = sima.constant #sima.ndarray<"conv.bias", tensor<4xf32>, "@conv_bias@">
  %c = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "MLA_0/conv2d_add_relu_0"} : (tensor<1x4x4x3xf32>, tensor<3x3x3x4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %r = sima.relu %c {node = "MLA_0/relu_1"} : tensor<1x4x4x4xf32>
  %h = sima.constant #sima.ndarray<"scale", tensor<4xbf16>, "@half@">
  %hf = sima.cast %h : (tensor<4xbf16>) -> tensor<4xf32>
  %s = sima.add %y, %hf : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %b2 = sima.constant #sima.ndarray<"conv.bias", tensor<4xf32>, "@conv_bias@">
  %s2 = sima.add %s, %b2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %same_name = sima.constant #sima.ndarray<"conv.bias", tensor<4xf32>, "@other_bias@">
  %s3 = sima.mul %s2, %same_name : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %d = sima.constant dense<[0.1, -2.5, 3.0e-08, 7.0]> : tensor<4xf32>
  %s4 = sima.sub %s3, %d : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %i = sima.constant #sima.ndarray<"indices", tensor<4xi64>, "@indices@">
  %m = sima.constant #sima.ndarray<"mask", tensor<4xi1>, "@mask@">
  %g = sima.constant #sima.ndarray<"table", tensor<8xi32>, "@table@">
  %t = sima.gather %g, %i {axis = 0 : i64} : (tensor<8xi32>, tensor<4xi64>) -> tensor<4xi32>
  %z = sima.constant #sima.ndarray<"zeros", tensor<4xi32>, "@zeros@">
  %sel = sima.where %m, %t, %z : (tensor<4xi1>, tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  %q = sima.constant #sima.ndarray<"quantized", tensor<2x!sima.quant<i8, 0.03125:-3>>, "@quantized@">
  func.return %r, %s4, %sel, %q : tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xi32>, tensor<2x!sima.quant<i8, 0.03125:-3>>
}
"""


def _hex(array: np.ndarray) -> str:
    return "0x" + np.ascontiguousarray(array).tobytes().hex().upper()


def small_module() -> ModuleOp:
    rng = np.random.default_rng(7)
    weights = {
        "conv_weight": rng.standard_normal((3, 3, 3, 4)).astype(np.float32),
        "conv_bias": rng.standard_normal(4).astype(np.float32),
        "half": np.array([1.5, -0.0, np.nan, 3e38], dtype=ml_dtypes.bfloat16),
        "other_bias": rng.standard_normal(4).astype(np.float32),
        "indices": np.array([7, 0, 3, 3], dtype=np.int64),
        "mask": np.array([True, False, True, True]),
        "table": rng.integers(-(2**31), 2**31 - 1, 8, dtype=np.int32),
        "zeros": np.zeros(4, dtype=np.int32),
        "quantized": np.array([-128, 127], dtype=np.int8),
    }
    text = SMALL_MODEL
    for name, array in weights.items():
        text = text.replace(f"@{name}@", _hex(array))
    return parse_module(text)


def small_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {"image": rng.standard_normal((1, 4, 4, 3)).astype(np.float32), "y": rng.standard_normal(4).astype(np.float32)}


def ir_text(module: ModuleOp) -> str:
    stream = io.StringIO()
    with print_weights_in_full(False):
        Printer(stream=stream).print_op(module)
    return stream.getvalue()


def weights_of(module: ModuleOp) -> list[tuple[str, str, bytes]]:
    found = []

    def note(attr: NDArrayAttr) -> NDArrayAttr:
        found.append((attr.weight_name, str(attr.tensor_type), attr.array.tobytes()))
        return attr

    map_weights(module, note)
    return found


def assert_same_module(saved: ModuleOp, loaded: ModuleOp) -> None:
    assert ir_text(loaded) == ir_text(saved)
    assert weights_of(loaded) == weights_of(saved)  # every weight's bytes, in IR order


def assert_bit_identical(outputs: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()


# ---------------------------------------------------------------------------------
# round trip


def test_save_load_gives_the_same_module_and_bit_identical_outputs(tmp_path):
    module = small_module()
    metadata = {"model_name": "small", "layer_stats": {"MLA_0/relu_1": [0.5, None]}, "flag": True}
    path = tmp_path / "small.sima"
    save_module(path, module, metadata)

    loaded, loaded_metadata = load_module(path)
    assert loaded_metadata == metadata
    assert_same_module(module, loaded)
    before, after = Interpreter(module), Interpreter(loaded)
    assert after.input_names == before.input_names == ["image", "y"]
    assert_bit_identical(after.run(small_inputs()), before.run(small_inputs()))


def test_loaded_weights_are_read_only_and_the_archive_holds_no_pickle(tmp_path):
    path = tmp_path / "small.sima"
    save_module(path, small_module(), {})
    loaded, _ = load_module(path)
    map_weights(loaded, lambda attr: (attr, assert_read_only(attr.array))[0])
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        for name in names:
            if name.endswith(".npy"):
                header = archive.read(name)[:128]
                assert b"'descr': '|O'" not in header and b"'descr': 'O'" not in header
    assert names == ["manifest.json", "module.mlir", *(f"weights/{i}.npy" for i in range(9))]
    assert manifest["format"] == "sima-model" and manifest["format_version"] == FORMAT_VERSION
    bf16 = next(e for e in manifest["weights"] if e["name"] == "scale")
    assert bf16["dtype"] == "bfloat16"


def assert_read_only(array: np.ndarray) -> None:
    assert not array.flags.writeable


def test_a_weight_in_two_constants_is_stored_once(tmp_path):
    path = tmp_path / "small.sima"
    save_module(path, small_module(), {})
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        text = archive.read("module.mlir").decode()
    assert text.count("elided") == 10  # ten weight attributes, referred to by name and digest
    assert "0x" not in text  # no data in the text
    # the two identical conv.bias constants share one entry; the other conv.bias has its own
    assert [e["name"] for e in manifest["weights"]] == [
        "conv.weight", "conv.bias", "scale", "conv.bias", "indices", "mask", "table", "zeros", "quantized",
    ]


def test_saving_twice_gives_the_same_bytes(tmp_path):
    module = small_module()
    save_module(tmp_path / "a.sima", module, {"k": 1})
    save_module(tmp_path / "b.sima", module, {"k": 1})
    assert (tmp_path / "a.sima").read_bytes() == (tmp_path / "b.sima").read_bytes()


WEIGHT_DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16, np.bool_, np.int8, np.int16, np.int32, np.int64]


@st.composite
def weights(draw) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(WEIGHT_DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    # any bit pattern: NaN payloads, -0.0, subnormals, infinities
    raw = draw(hnp.arrays(np.uint8, (int(np.prod(shape, dtype=np.int64)) * dtype.itemsize,)))
    array = raw.view(dtype).reshape(shape) if dtype != np.bool_ else (raw & 1).astype(np.bool_).reshape(shape)
    return array


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrays=st.lists(weights(), min_size=1, max_size=4))
def test_any_weight_round_trips_bit_for_bit(tmp_path, arrays):
    from xdsl.dialects.builtin import ModuleOp as Module
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.ir import Block, Region

    from sima_dialect.ops import ConstantOp

    constants = [ConstantOp.from_array(f"w{i}", array) for i, array in enumerate(arrays)]
    block = Block()
    block.add_ops([*constants, ReturnOp(*(c.output for c in constants))])
    module = Module([FuncOp("main", ([], [c.output.type for c in constants]), Region(block))])
    module.verify()
    path = tmp_path / "w.sima"
    save_module(path, module, {})
    loaded, _ = load_module(path)
    assert_same_module(module, loaded)
    assert_bit_identical(Interpreter(loaded).run([]), [np.asarray(a) for a in arrays])


@pytest.fixture(scope="module", params=sorted(REAL_MODELS))
def real_net(request):
    return request.param, load_real_net(request.param)


def test_every_real_model_executes_bit_identically_after_save_and_load(real_net, tmp_path):
    name, net = real_net
    spec = REAL_MODELS[name]
    path = tmp_path / f"{name}.sima"
    save_module(path, net.module, {"model_name": name})
    loaded, metadata = load_module(path)
    assert metadata == {"model_name": name}
    assert_same_module(net.module, loaded)
    interpreter = Interpreter(loaded)
    assert interpreter.input_names == net.input_names
    for image in real_inputs(name, 2, seed=5):
        feed = {spec.input_name: np.ascontiguousarray(image.transpose(0, 2, 3, 1))}
        assert_bit_identical(interpreter.run(feed), net.execute(feed))


# ---------------------------------------------------------------------------------
# atomic saving


def test_a_failure_mid_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.sima"
    save_module(path, small_module(), {"version": "old"})
    old = path.read_bytes()

    calls = []
    real_save = np.save

    def failing_save(file, array, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            file.write(b"partial")
            raise OSError(28, "No space left on device")
        return real_save(file, array, **kwargs)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(UserFacingException) as caught:
        save_module(path, small_module(), {"version": "new"})
    assert caught.value.func_type is ExceptionFuncType.MODEL_SAVE
    assert "No space left on device" in str(caught.value) and str(path) in str(caught.value)
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.sima"]  # no temporary file left behind
    monkeypatch.undo()
    assert load_module(path)[1] == {"version": "old"}


CRASHING_SAVE = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    sys.path.insert(0, {test_dir!r})
    from test_sima_file import small_module
    from afe.serialization import save_module

    real_save, calls = np.save, []
    def save_then_die(file, array, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            file.write(b"half a weight")
            os._exit(9)  # no cleanup, no finally: as a kill or a power loss would
        return real_save(file, array, **kwargs)
    np.save = save_then_die
    save_module({path!r}, small_module(), {{"version": "new"}})
    """
)


def test_a_crash_mid_save_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "model.sima"
    save_module(path, small_module(), {"version": "old"})
    old = path.read_bytes()
    script = CRASHING_SAVE.format(test_dir=str(Path(__file__).parent), path=str(path))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 9, result.stderr
    assert path.read_bytes() == old
    assert load_module(path)[1] == {"version": "old"}
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "model.sima"]
    assert leftovers and all(name.startswith(".model.sima.") and name.endswith(".partial") for name in leftovers)


def test_a_saved_file_gets_the_usual_permissions(tmp_path):
    path = tmp_path / "model.sima"
    mask = os.umask(0o022)
    try:
        save_module(path, small_module(), {})
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o600)
    save_module(path, small_module(), {})  # replacing keeps the file's mode
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ---------------------------------------------------------------------------------
# loading never runs code


class _CreatesMarker:
    """Unpickling this calls open(marker, "w"): a harmless stand-in for any code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _pickle_payload(marker: Path) -> bytes:
    return pickle.dumps(_CreatesMarker(marker), protocol=2)


def test_the_pickle_payload_of_these_tests_does_run_code_when_unpickled(tmp_path):
    """So the two refusals below prove something: unpickling this payload acts."""
    marker = tmp_path / "ran"
    pickle.loads(_pickle_payload(marker)).close()
    assert marker.exists()
    array = np.array([_CreatesMarker(tmp_path / "ran_from_npy")], dtype=object)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    buffer.seek(0)
    np.load(buffer, allow_pickle=True)[0].close()
    assert (tmp_path / "ran_from_npy").exists()


def _object_npy(marker: Path) -> bytes:
    """A .npy of dtype object whose data is a pickle that creates `marker`."""
    buffer = io.BytesIO()
    np.save(buffer, np.array([_CreatesMarker(marker)], dtype=object), allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("payload", ["object_npy", "raw_pickle"])
def test_a_weight_holding_a_pickle_is_refused_without_running_it(tmp_path, payload):
    path = tmp_path / "evil.sima"
    save_module(path, small_module(), {})
    marker = tmp_path / "code_ran"
    data = _object_npy(marker) if payload == "object_npy" else _pickle_payload(marker)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    manifest["weights"][1]["shape"] = [1]  # make the entry agree with the object array's shape
    rewrite(path, {"weights/1.npy": data, "manifest.json": json.dumps(manifest).encode()})

    error = load_error(path)
    assert "weights/1.npy" in error and "conv.bias" in error
    assert ("pickle" in error and "refused" in error) if payload == "object_npy" else "not a .npy" in error
    assert not marker.exists()


# ---------------------------------------------------------------------------------
# damaged files


def rewrite(path: Path, replace: dict[str, bytes | None]) -> None:
    """Rewrite the archive at `path`, replacing (bytes) or dropping (None) members."""
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in members:
            if info.filename in replace:
                data = replace.pop(info.filename)
                if data is None:
                    continue
            archive.writestr(info, data)
        for name, data in replace.items():
            archive.writestr(name, data)


def edit_manifest(path: Path, edit) -> None:
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    edit(manifest)
    rewrite(path, {"manifest.json": json.dumps(manifest).encode()})


def load_error(path: Path) -> str:
    with pytest.raises(UserFacingException) as caught:
        load_module(path)
    assert caught.value.func_type is ExceptionFuncType.MODEL_LOAD
    message = str(caught.value)
    assert message.startswith("Error while loading the saved model: ") and str(path) in message
    return message


@pytest.fixture
def saved(tmp_path) -> Path:
    path = tmp_path / "model.sima"
    save_module(path, small_module(), {"model_name": "small"})
    return path


def test_a_file_that_is_no_zip_is_named_as_such(tmp_path):
    path = tmp_path / "model.sima"
    path.write_text("func.func @main() { func.return }")
    assert "not a .sima model file (it is not a zip archive)" in load_error(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_a_truncated_file_is_reported(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * keep)])
    assert "truncated or corrupt" in load_error(saved)


def test_an_empty_file_is_reported(saved):
    saved.write_bytes(b"")
    assert "not a .sima model file" in load_error(saved)


def test_a_flipped_bit_in_a_weight_is_caught_by_the_zip_checksum(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("weights/0.npy")
    # stored uncompressed: the local header (30 bytes + name + extra), then the .npy
    with open(saved, "rb") as file:
        file.seek(info.header_offset + 26)
        name_length, extra_length = np.frombuffer(file.read(4), dtype="<u2")
    data[info.header_offset + 30 + name_length + extra_length + 200] ^= 0x10
    saved.write_bytes(bytes(data))
    error = load_error(saved)
    assert "weights/0.npy" in error and "corrupt" in error


def test_a_weight_changed_behind_the_manifest_fails_its_digest(saved):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 3, 3, 4), dtype=np.float32))
    rewrite(saved, {"weights/0.npy": buffer.getvalue()})  # a consistent zip, wrong data
    error = load_error(saved)
    assert "weight 'conv.weight' (weights/0.npy) does not match its digest" in error


@pytest.mark.parametrize("member", ["manifest.json", "module.mlir", "weights/3.npy"])
def test_a_missing_member_is_named(saved, member):
    rewrite(saved, {member: None})
    assert f"has no '{member}'" in load_error(saved)


def test_a_file_from_a_future_format_version_says_to_upgrade(saved):
    edit_manifest(saved, lambda m: m.update(format_version=FORMAT_VERSION + 1, producer={"version": "9.0.0"}))
    error = load_error(saved)
    assert f"format version {FORMAT_VERSION + 1}" in error and "9.0.0" in error and "upgrade sima-quantizer" in error


def test_a_zip_of_another_format_is_not_taken_for_a_model(saved):
    edit_manifest(saved, lambda m: m.update(format="something-else"))
    assert "not a .sima model file" in load_error(saved)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m["weights"][0].update(dtype="object"), "has dtype 'object', which no sima tensor has"),
        (lambda m: m["weights"][0].update(dtype="complex64"), "has dtype 'complex64'"),
        (lambda m: m["weights"][0].update(shape=[3, 3, 12]), "has shape [3, 3, 3, 4], but the manifest says [3, 3, 12]"),
        (lambda m: m["weights"][0].update(dtype="int32"), "is stored as float32, but the manifest says int32"),
        (lambda m: m["weights"][0].update(member="../../etc/passwd"), "outside weights/"),
        (lambda m: m["weights"].append(dict(m["weights"][0], name="extra")), "'extra' that module.mlir does not use"),
        (lambda m: m["weights"][0].update(name="renamed"), "uses weight 'conv.weight' (digest"),
        (lambda m: m.pop("weights"), "has no weight list"),
        (lambda m: m.update(metadata=[1, 2]), "has no metadata object"),
        (lambda m: m.update(format_version="1"), "invalid format_version '1'"),
    ],
)
def test_an_inconsistent_manifest_is_reported(saved, edit, message):
    edit_manifest(saved, edit)
    assert message in load_error(saved)


def test_a_manifest_that_is_no_json_is_reported(saved):
    rewrite(saved, {"manifest.json": b"{not json"})
    assert "manifest.json is not valid JSON" in load_error(saved)


def test_ir_that_does_not_parse_is_reported(saved):
    rewrite(saved, {"module.mlir": b'"builtin.module"() ({ "sima.nonsense"() : () -> () }) : () -> ()'})
    assert "module.mlir does not parse" in load_error(saved)


def test_ir_that_does_not_verify_is_reported(saved):
    with zipfile.ZipFile(saved) as archive:
        text = archive.read("module.mlir").decode()
    broken = text.replace("groups = 1 : i64", "groups = 5 : i64", 1)
    assert broken != text
    rewrite(saved, {"module.mlir": broken.encode()})
    assert "the saved IR does not verify" in load_error(saved)


def test_a_missing_file_is_reported(tmp_path):
    assert "cannot read the file: No such file or directory" in load_error(tmp_path / "absent.sima")


# ---------------------------------------------------------------------------------
# saving errors


def save_error(path, module, metadata=None) -> str:
    with pytest.raises(UserFacingException) as caught:
        save_module(path, module, metadata)
    assert caught.value.func_type is ExceptionFuncType.MODEL_SAVE
    message = str(caught.value)
    assert message.startswith("Error while saving the model: ") and str(path) in message
    return message


def test_metadata_must_be_plain_json(tmp_path):
    assert "the metadata is not plain JSON" in save_error(tmp_path / "m.sima", small_module(), {"a": np.float32(1)})
    assert "the metadata is not plain JSON" in save_error(tmp_path / "m.sima", small_module(), {"a": float("nan")})
    assert not (tmp_path / "m.sima").exists()


def test_a_module_whose_weights_were_elided_cannot_be_saved(tmp_path):
    elided = parse_module(ir_text(small_module()))
    assert "weight 'conv.weight' has no data" in save_error(tmp_path / "m.sima", elided)


def test_a_missing_output_directory_is_reported(tmp_path):
    message = save_error(tmp_path / "no_such_dir" / "m.sima", small_module())
    assert "cannot write the file: No such file or directory" in message


def test_a_weight_member_far_larger_than_its_entry_is_not_read(saved):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(1 << 16, dtype=np.float32))  # 256 KiB where the manifest says 432 bytes
    rewrite(saved, {"weights/0.npy": buffer.getvalue()})
    assert "member 'weights/0.npy' is 262272 bytes, more than it can validly hold" in load_error(saved)


# ---------------------------------------------------------------------------------
# the two files of a saved model, named as seed 003 says


@pytest.mark.parametrize(
    "name, directory, expected",
    [
        ("resnet", "", ("resnet.sima", "resnet.sima.json")),
        ("resnet.sima", "out", ("out/resnet.sima", "out/resnet.sima.json")),
        ("resnet.v2", "out/", ("out/resnet.v2.sima", "out/resnet.v2.sima.json")),
    ],
)
def test_model_file_names_follow_the_specification(name, directory, expected):
    assert model_file_paths(name, directory) == expected


def test_save_model_files_writes_the_model_and_its_view(tmp_path):
    sima, view = save_model_files("small", tmp_path, small_module(), metadata={"k": 1})
    assert (sima, view) == (str(tmp_path / "small.sima"), str(tmp_path / "small.sima.json"))
    assert load_module(sima)[1] == {"k": 1}
    assert json.loads(Path(view).read_text())["config"]["name"] == "small"

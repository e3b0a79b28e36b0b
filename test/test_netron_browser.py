"""The `.sima.json` view opens in Netron, rendered by a real browser.

The `netron` package serves the file (`netron.serve`), Debian's headless
Chromium loads Netron's page, and the test reads the rendered graph through
the DevTools protocol (over `--remote-debugging-pipe`, so no extra package):
every node name of the model is in the SVG, the inputs are graph inputs, and
the node panel shows "Layer Statistics". A document Netron cannot read is
reported as Netron's error, so the check cannot pass on a page that shows
nothing.

Netron's web page, as `netron.serve` gives it, asks for cookie consent (after
looking the visitor's country up online), sends telemetry, and stops working
180 days after its release date. The test neutralises those three before the
page runs (a consent cookie, no release date, an unpackaged version number) and
Chromium resolves no host name at all, so nothing leaves the loopback address.
Reading the model is untouched: that is Netron's Keras reader, as a user gets it.

CI (`CI=true`) installs Chromium (`.ci/run`); there a missing browser fails the
test instead of skipping it.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr, TensorType, f32, i16
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

from afe.serialization import LayerStats, save_netron_json
from models import REAL_MODELS
from sima_dialect import ops
from sima_dialect.types import QuantizedType

RENDER_TIMEOUT_S = 60.0  # a small graph renders in about a second; CI shares two cores


def _require(what: str, found: Any, install: str) -> Any:
    if found:
        return found
    message = f"{what} is not installed ({install})"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{message}; CI must have it")
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    executable = _require("Chromium", shutil.which("chromium") or shutil.which("chromium-browser"), "apt-get install -y chromium")
    browser = Chromium(executable)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def netron_module():
    try:
        import netron
    except ImportError:
        netron = None
    return _require("The netron package", netron, "pip install -e '.[test]'")


# ---------------------------------------------------------------------------------
# a headless Chromium driven over the DevTools protocol


class Chromium:
    """Headless Chromium with the DevTools protocol on a pipe (fd 3 in, fd 4 out,
    messages separated by NUL bytes)."""

    FLAGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        # every host name fails to resolve: the page can reach 127.0.0.1 and nothing else
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--remote-debugging-pipe",
    )

    def __init__(self, executable: str):
        self.profile = tempfile.TemporaryDirectory(prefix="sima-chromium-")
        self.log = open(Path(self.profile.name) / "stderr.log", "w+b")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # Chromium expects the pipe on fds 3 and 4. Copies above any fd in use
        # here are moved there by bash (dash takes single-digit fds only), so
        # no fd number can collide.
        high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 100)
        high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 100)
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        script = f'exec "$0" "$@" 3<&{high_r} 4>&{high_w} {high_r}<&- {high_w}>&-'
        command = [shutil.which("bash") or "/bin/bash", "-c", script, executable, *self.FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"]
        try:
            self.process = subprocess.Popen(
                command, pass_fds=(high_r, high_w), stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log
            )
        finally:
            os.close(high_r)
            os.close(high_w)
        self.to_browser, self.from_browser = to_browser_w, from_browser_r
        self.buffer = b""
        self.last_id = 0

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Send one command and wait for its answer (events in between are dropped)."""
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next_message(deadline, method)
            if reply.get("id") == self.last_id:
                if "error" in reply:
                    raise RuntimeError(f"Chromium refused {method}: {reply['error']}")
                return reply.get("result", {})

    def _next_message(self, deadline: float, method: str) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            ready = select.select([self.from_browser], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                raise TimeoutError(f"Chromium did not answer {method}{self.stderr_tail()}")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.process.poll()}){self.stderr_tail()}")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def stderr_tail(self) -> str:
        self.log.flush()
        self.log.seek(0)
        lines = [line for line in self.log.read().decode(errors="replace").splitlines() if "dbus" not in line]
        return ("; Chromium said:\n" + "\n".join(lines[-15:])) if lines else ""

    def open_page(self, url: str, prelude: str) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", None, session)  # scripts for new documents need the Page domain
        self.call("Page.addScriptToEvaluateOnNewDocument", {"source": prelude}, session)
        self.call("Page.navigate", {"url": url}, session)
        return Page(self, session)

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self.to_browser, self.from_browser):
            os.close(fd)
        self.log.close()
        self.profile.cleanup()


@dataclass
class Page:
    browser: Chromium
    session: str

    def evaluate(self, expression: str) -> Any:
        result = self.browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str) -> Any:
        deadline = time.monotonic() + RENDER_TIMEOUT_S
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"Netron did not {what} within {RENDER_TIMEOUT_S:.0f} s{self.browser.stderr_tail()}")


# Runs in the page before Netron's scripts: see the module docstring.
NETRON_PRELUDE = r"""
document.cookie = 'consent=' + Date.now() + '; path=/';
new MutationObserver((records) => {
    for (const record of records) {
        for (const node of record.addedNodes) {
            if (node.nodeName === 'META' && node.getAttribute('name') === 'date') {
                node.remove();
            } else if (node.nodeName === 'META' && node.getAttribute('name') === 'version') {
                node.setAttribute('content', '0.0.0');
            }
        }
    }
}).observe(document, { childList: true, subtree: true });
"""

# Netron is done when it shows the graph ('default' page, no spinner), an error
# ('alert'), or waits for a click on a message ('notification': the prelude failed).
SETTLED = """(() => {
    const body = document.body;
    if (!body) return null;
    const message = document.getElementById('message-text');
    if (body.classList.contains('alert')) return {error: message.innerText};
    if (body.classList.contains('notification')) return {error: 'Netron waits for a click on: ' + message.innerText};
    if (body.classList.contains('default') && !body.classList.contains('spinner')) return {error: null};
    return null;
})()"""

GRAPH = """(() => {
    const nodes = Array.from(document.querySelectorAll('#canvas g.graph-node'));
    const inputs = Array.from(document.querySelectorAll('#canvas g.graph-input text'));
    return {
        nodes: nodes.map((node) => ({
            id: node.id,
            type: node.querySelector('.node-item-type text').textContent,
            title: node.querySelector('.node-item-type title').textContent,
        })),
        inputs: inputs.map((text) => text.textContent),
        edges: document.querySelectorAll('#canvas path.edge-path').length,
    };
})()"""

# The node panel as [name, value text] pairs (names are read-only <input>s).
SIDEBAR_ITEMS = """(() => {
    const content = document.getElementById('sidebar-content');
    const items = content ? Array.from(content.querySelectorAll('.sidebar-item')) : [];
    return items.length ? items.map((item) => [
        item.querySelector('.sidebar-item-name input').value,
        item.querySelector('.sidebar-item-value-list').innerText.trim(),
    ]) : null;
})()"""


def node_panel(page: Page, name: str) -> dict[str, str]:
    """Click the box of node `name` and read the properties panel Netron opens."""
    element = f"document.getElementById({json.dumps('node-name-' + name)})"
    page.evaluate(f"{element}.querySelector('.node-item-type').dispatchEvent(new MouseEvent('click'))")
    shown = f"(() => {{ const items = {SIDEBAR_ITEMS}; return items && items.some(([k, v]) => k === 'name' && v === {json.dumps(name)}) ? items : null; }})()"
    return dict(page.wait_for(shown, f"show the properties of {name}"))


def render(chromium: Chromium, netron_module, path: Path) -> tuple[Page, dict[str, Any]]:
    """Serve `path` with netron and load it; the page and Netron's verdict."""
    address = netron_module.serve(str(path), browse=False, address=("127.0.0.1", 0))
    try:
        page = chromium.open_page(f"http://{address[0]}:{address[1]}/", NETRON_PRELUDE)
        settled = page.wait_for(SETTLED, f"open {path.name}")
    finally:
        netron_module.stop(address)
    return page, settled


# ---------------------------------------------------------------------------------
# the model: named MLA nodes, an unnamed op, a weight, a multi-input op


NODE_NAMES = ["MLA_0/conv2d_add_relu_0", "MLA_0/max_pool_1", "MLA_0/add_2", "MLA_1/relu_3"]
QUANTIZED = TensorType(QuantizedType(i16, 0.0625, -3), [1, 4, 4, 4])


def small_module() -> ModuleOp:
    rng = np.random.default_rng(0)
    image = TensorType(f32, [1, 8, 8, 3])
    block = Block(arg_types=[image, TensorType(f32, [1, 4, 4, 4]), QUANTIZED])
    weight = ops.ConstantOp.from_array("conv.weight", rng.standard_normal((3, 3, 3, 4)).astype(np.float32))
    bias = ops.ConstantOp.from_array("conv.bias", rng.standard_normal(4).astype(np.float32))
    conv = ops.Conv2DOp.build(
        operands=[block.args[0], weight.output, bias.output],
        result_types=[TensorType(f32, [1, 8, 8, 4])],
        properties={
            "strides": ops.int_array([1, 1]),
            "pads": ops.int_array([1, 1, 1, 1]),
            "dilations": ops.int_array([1, 1]),
            "groups": ops.int_attr(1),
            "node": StringAttr(NODE_NAMES[0]),
        },
    )
    relu = ops.ReluOp(conv.output)  # unnamed: the view generates a name
    pool = ops.MaxPoolOp.build(
        operands=[relu.output],
        result_types=[TensorType(f32, [1, 4, 4, 4])],
        properties={
            "kernel": ops.int_array([2, 2]),
            "strides": ops.int_array([2, 2]),
            "pads": ops.int_array([0, 0, 0, 0]),
            "dilations": ops.int_array([1, 1]),
            "node": StringAttr(NODE_NAMES[1]),
        },
    )
    add = ops.AddOp.build(
        operands=[pool.output, block.args[1]],
        result_types=[TensorType(f32, [1, 4, 4, 4])],
        properties={"node": StringAttr(NODE_NAMES[2])},
    )
    quantized_relu = ops.ReluOp(block.args[2], {"node": StringAttr(NODE_NAMES[3])})
    block.add_ops([weight, bias, conv, relu, pool, add, quantized_relu, ReturnOp(add.output, quantized_relu.output)])
    names = ArrayAttr([DictionaryAttr({"sima.name": StringAttr(n)}) for n in ("image", "residual", "quantized")])
    function = FuncOp("main", ([a.type for a in block.args], [add.output.type, QUANTIZED]), Region(block), arg_attrs=names)
    module = ModuleOp([function])
    module.verify()
    return module


def test_netron_renders_every_node_of_the_sima_json(chromium, netron_module, tmp_path):
    path = tmp_path / "small.sima.json"
    stats = {NODE_NAMES[2]: LayerStats("mae", 0.03125)}
    save_netron_json(path, small_module(), model_name="small", layer_stats=stats)

    page, settled = render(chromium, netron_module, path)
    assert settled["error"] is None, f"Netron could not open the file: {settled['error']}"
    graph = page.evaluate(GRAPH)
    titles = {node["title"] for node in graph["nodes"]}
    # the tooltip of each box is its node name; the unnamed relu got a generated one
    assert set(NODE_NAMES) <= titles
    assert len(graph["nodes"]) == 5 and "relu" in titles
    assert {node["type"] for node in graph["nodes"]} == {"Conv2D", "Relu", "MaxPool", "Add"}
    assert sorted(graph["inputs"]) == ["image", "quantized", "residual"]
    # image->conv, conv->relu, relu->pool, pool->add, residual->add, add->output, quantized->relu, relu->output
    assert graph["edges"] == 8

    # clicking the add node opens its properties: the layer statistics are there
    panel = node_panel(page, NODE_NAMES[2])
    assert panel["Layer Statistics"] == "metric: mae, error_value: 0.03125"
    assert panel["op"] == "sima.add" and panel["_status"] == "NOT_QUANTIZED"

    # a quantized node shows its precision and its scale and zero point
    panel = node_panel(page, NODE_NAMES[3])
    assert panel["_status"] == "SIMA_QUANTIZED" and panel["input_int16"] == "true"
    assert "dtype: int16" in panel["outputs"] and "scale: 0.0625" in panel["outputs"] and "zero_point: -3" in panel["outputs"]


def test_a_document_netron_cannot_read_is_reported(chromium, netron_module, tmp_path):
    """The check above cannot pass on a page that failed: a broken connection list
    makes Netron's Keras reader raise, and the test sees Netron's error."""
    path = tmp_path / "broken.sima.json"
    layer = {"class_name": "Relu", "name": "r", "config": {"name": "r"}, "inbound_nodes": [[42]]}
    path.write_text(json.dumps({"class_name": "Functional", "config": {"name": "b", "layers": [layer], "input_layers": [], "output_layers": []}}))
    _, settled = render(chromium, netron_module, path)
    assert settled["error"] and "Invalid inbound connection" in settled["error"]


@pytest.mark.parametrize("name", sorted(REAL_MODELS))
def test_netron_renders_every_layer_of_a_real_model(chromium, netron_module, tmp_path, name):
    from afe.apis.loaded_net import load_model
    from afe.ir.tensor_type import ScalarType
    from afe.load.importers.general_importer import onnx_source

    spec = REAL_MODELS[name]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}, {spec.input_name: ScalarType.float32}))
    path = tmp_path / f"{name}.sima.json"
    save_netron_json(path, net.module, model_name=name)
    layers = json.loads(path.read_text())["config"]["layers"]

    page, settled = render(chromium, netron_module, path)
    assert settled["error"] is None, f"Netron could not open {name}: {settled['error']}"
    graph = page.evaluate(GRAPH)
    assert sorted(node["title"] for node in graph["nodes"]) == sorted(l["name"] for l in layers if l["class_name"] != "InputLayer")
    assert graph["inputs"] == net.input_names

"""pytest runs the lit/FileCheck suite too: every `test/filecheck/**/*.mlir` file is
a pytest item. lit runs once per session (in parallel) and each item reports its
file's result, so `pytest` alone is the whole test command and fails if any
FileCheck test fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

FILECHECK_DIR = Path(__file__).parent / "filecheck"


def _lit_executable() -> str:
    beside_python = Path(sys.executable).parent / "lit"
    return str(beside_python) if beside_python.exists() else (shutil.which("lit") or "lit")


class _LitRun:
    """Runs the whole lit suite once and remembers each file's outcome."""

    results: dict[str, tuple[bool, str]] | None = None
    selected: list[Path] = []  # the lit files this pytest session runs

    @classmethod
    def outcome(cls, path: Path) -> tuple[bool, str]:
        if cls.results is None:
            cls.results = cls._run(cls.selected or [FILECHECK_DIR])
        key = str(path.resolve().relative_to(FILECHECK_DIR.resolve()))
        return cls.results.get(key, (False, f"lit reported no result for {key}"))

    @staticmethod
    def _run(paths: list[Path]) -> dict[str, tuple[bool, str]]:
        env = dict(os.environ)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "lit.xml"
            subprocess.run(
                [_lit_executable(), "-q", "--xunit-xml-output", str(report), *map(str, paths)],
                env=env,
                capture_output=True,
                text=True,
            )
            if not report.exists():
                return {}
            results = {}
            for case in ET.parse(report).getroot().iter("testcase"):
                # lit names a case "<suite>.<dir/with/slashes>" + file name ("<suite>.<suite>" at top level)
                directory = case.get("classname", "").split(".", 1)[-1]
                name = case.get("name", "") if directory == "sima" else f"{directory}/{case.get('name', '')}"
                failure = case.find("failure")
                message = "" if failure is None else (failure.text or failure.get("message", ""))
                results[name] = (failure is None and case.find("skipped") is None, message)
            return results


class LitFile(pytest.File):
    def collect(self):
        yield LitItem.from_parent(self, name=self.path.name)


class LitItem(pytest.Item):
    def runtest(self) -> None:
        passed, message = _LitRun.outcome(self.path)
        if not passed:
            raise LitFailure(message)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, LitFailure):
            return f"lit test {self.path.relative_to(FILECHECK_DIR)} failed:\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"lit: {self.path.relative_to(FILECHECK_DIR)}"


class LitFailure(Exception):
    pass


def pytest_collection_modifyitems(session, config, items):
    _LitRun.selected = [item.path for item in items if isinstance(item, LitItem)]


@pytest.fixture(scope="module")
def cls_net():
    """The real cls model (PP-OCR text-line orientation, `models.REAL_MODELS`) as a
    `LoadedNet`, imported once per test module."""
    from models import load_real_net

    return load_real_net("cls")


def pytest_collect_file(parent, file_path: Path):
    if file_path.suffix == ".mlir" and FILECHECK_DIR in file_path.parents and "Inputs" not in file_path.parts:
        return LitFile.from_parent(parent, path=file_path)
    return None

"""The pass registry: names, lazy loading, options from `-p name{option=value}`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from xdsl.passes import ModulePass, PassPipeline

from passes import get_all_passes


@pytest.mark.parametrize("name", sorted(get_all_passes()))
def test_registered_class_matches_its_name_and_documents_itself(name: str) -> None:
    pass_class = get_all_passes()[name]()
    assert issubclass(pass_class, ModulePass)
    assert pass_class.name == name
    assert (pass_class.__doc__ or "").strip(), f"{name} needs a docstring: sima-opt --help shows its first line"


def test_registry_imports_no_pass_module_until_asked() -> None:
    code = (
        "import sys, passes\n"
        "passes.get_all_passes()\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('passes.'))\n"
        "assert not loaded, loaded\n"
        "passes.get_all_passes()['cancel-transposes']()\n"
        "assert 'passes.cancel_transposes' in sys.modules\n"
        "assert 'passes.sima_canonicalize' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_options_come_from_the_pass_spec() -> None:
    pipeline = PassPipeline.parse_spec(
        get_all_passes(), "sima-canonicalize{fold-constants=false},cancel-transposes{to-reshape=false}"
    )
    canonicalize, cancel = pipeline.passes
    assert canonicalize.fold_constants is False
    assert cancel.to_reshape is False


def test_xdsl_canonicalize_is_not_shadowed() -> None:
    from xdsl.universe import Universe

    assert "canonicalize" in Universe.get_multiverse().all_passes
    assert "canonicalize" not in get_all_passes()

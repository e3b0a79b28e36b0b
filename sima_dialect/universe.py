"""The `xdsl.universe` entry point: makes `xdsl-opt` see the sima dialect and passes."""

from xdsl.universe import Universe


def _sima_dialect():
    from sima_dialect import Sima

    return Sima


def _passes():
    from passes import get_all_passes

    return get_all_passes()


SIMA_UNIVERSE = Universe(all_dialects={"sima": _sima_dialect}, all_passes=_passes())

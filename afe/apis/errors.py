"""The user-facing exception of every `afe` API entry point.

A `UserFacingException` carries a message meant for a model user (which node,
input or option is at fault and what to do) and, optionally, the API call it
came from. Internal errors are wrapped into one at the API boundary; with
`enable_verbose_error_messages()` the original traceback is kept as the cause.
"""

from __future__ import annotations

import enum


class ExceptionFuncType(enum.Enum):
    """Which API call raised a UserFacingException."""

    LOADED_NET_LOAD = "LOADED_NET_LOAD"
    LOADED_NET_EXECUTE = "LOADED_NET_EXECUTE"
    LOADED_NET_QUANTIZE = "LOADED_NET_QUANTIZE"
    LOADED_NET_CONVERT = "LOADED_NET_CONVERT"
    MODEL_EXECUTE = "MODEL_EXECUTE"
    MODEL_SAVE = "MODEL_SAVE"
    MODEL_LOAD = "MODEL_LOAD"
    MODEL_COMPILE = "MODEL_COMPILE"
    MODEL_CREATE_AUXILIARY = "MODEL_CREATE_AUXILIARY"
    MODEL_COMPOSE = "MODEL_COMPOSE"
    MODEL_EVALUATE = "MODEL_EVALUATE"
    MODEL_PERFORMANCE = "MODEL_PERFORMANCE"
    GENERATE_ELF_FILES = "GENERATE_ELF_FILES"
    QUANTIZATION_ERROR_ANALYSIS = "QUANTIZATION_ERROR_ANALYSIS"


_FUNC_DESCRIPTIONS = {
    ExceptionFuncType.LOADED_NET_LOAD: "loading the model",
    ExceptionFuncType.LOADED_NET_EXECUTE: "executing the loaded model",
    ExceptionFuncType.LOADED_NET_QUANTIZE: "quantizing the model",
    ExceptionFuncType.LOADED_NET_CONVERT: "converting the pre-quantized model",
    ExceptionFuncType.MODEL_EXECUTE: "executing the quantized model",
    ExceptionFuncType.MODEL_SAVE: "saving the model",
    ExceptionFuncType.MODEL_LOAD: "loading the saved model",
    ExceptionFuncType.QUANTIZATION_ERROR_ANALYSIS: "analyzing the quantization error",
}


class UserFacingException(Exception):
    """An error a model user can act on; the message names what is at fault."""

    def __init__(self, message: str, func_type: ExceptionFuncType | None = None):
        self.message = message
        self.func_type = func_type
        super().__init__(self._render())

    def _render(self) -> str:
        if self.func_type is None:
            return self.message
        doing = _FUNC_DESCRIPTIONS.get(self.func_type, self.func_type.value)
        return f"Error while {doing}: {self.message}"

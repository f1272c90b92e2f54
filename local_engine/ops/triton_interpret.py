"""The Triton path on CPU tensors, through Triton's interpreter (for tests without a GPU).

Triton picks interpreter or compiler per @triton.jit function when it is decorated, its own
library functions (tl.sum, tl.cumsum, ...) included, which are decorated when triton is first
imported. So TRITON_INTERPRET=1 must be in the environment before the first `import triton` of
the process; a test module does `os.environ.setdefault("TRITON_INTERPRET", "1")` above its
imports and then calls load_interpreted_triton_ops(), which says clearly when that was too late.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def load_interpreted_triton_ops() -> ModuleType:
    """local_engine.ops.triton_ops with every kernel running under the interpreter, or a clear error."""
    if os.environ.get("TRITON_INTERPRET") != "1":
        raise RuntimeError("TRITON_INTERPRET is not '1': set it before triton is first imported")
    from triton.language import standard
    from triton.runtime.interpreter import InterpretedFunction

    if not isinstance(standard.sum, InterpretedFunction):
        raise RuntimeError(
            "triton was imported before TRITON_INTERPRET=1 was set, so its library functions are "
            "compiled-mode; set the variable before the first import of triton in this process"
        )
    ops = importlib.import_module("local_engine.ops.triton_ops")
    norm_act = importlib.import_module("local_engine.ops.triton_norm_act")
    if not isinstance(norm_act._rms_norm_kernel, InterpretedFunction):
        raise RuntimeError("local_engine.ops Triton kernels were imported before TRITON_INTERPRET=1 was set")
    return ops

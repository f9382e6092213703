"""Trace a torch module (raw profiles in, ``ln_ic50`` out) to an ONNX file: the one place that calls the exporter.

Used by the export (``onnx_export``), the int8 variant (``quantize``) and the int8 accuracy benchmark.
No checks here: ``onnx_export.export_model`` checks what it ships.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from drugresponse.train.data.bundle import MODALITIES


@dataclass(frozen=True)
class ExportSpec:
    input_names: tuple[str, ...] = MODALITIES
    output_names: tuple[str, ...] = ("ln_ic50",)
    opset: int = 20
    tolerance: float = 1e-4  # max |onnxruntime - torch| in ln µM
    check_batches: tuple[int, ...] = (1, 2, 7)


# The explanation graph: the four profile inputs plus a drug index per row (see export/explain.py).
EXPLAIN_SPEC = ExportSpec(input_names=(*MODALITIES, "drug"),
                          output_names=("contributions", "prediction", "baseline", "values"))


def _tensor(values: np.ndarray) -> torch.Tensor:
    dtype = np.int64 if np.issubdtype(np.asarray(values).dtype, np.integer) else np.float32
    return torch.from_numpy(np.ascontiguousarray(values, dtype=dtype))


def export_graph(model, example: dict[str, np.ndarray], path: Path, spec: ExportSpec = ExportSpec()) -> None:
    """``model`` (raw profiles in) to ONNX at ``path``, batch axis dynamic; no checks (see export_model)."""
    # The new exporter needs a batch of at least 2 in the example to keep the batch axis dynamic.
    args = tuple(_tensor(example[m][:2]) for m in spec.input_names)
    batch = torch.export.Dim("batch")
    # The exporter narrates each pass on stdout and warns about optional packages we do not use.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(path), input_names=list(spec.input_names),
                          output_names=list(spec.output_names), dynamic_shapes=({0: batch},) * len(args),
                          opset_version=spec.opset, external_data=False, dynamo=True)

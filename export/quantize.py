"""The int8 variant: the same model with 8-bit weights, for callers who need speed over the last digit.

A call of the float32 model reads 12.5 MB of weights, which on a CPU sets its batch-1 latency; int8
weights read a quarter of that. The graph is ``FusedModel(fold_scaling=True)`` — the training
standardisation and per-drug scales folded into the two matrix products — quantised by
onnxruntime's dynamic quantiser: 8-bit weights, one scale and zero point per output column (per-channel, so the
folded per-drug scales cost no precision), activations quantised per call. Everything else in the graph,
preprocessing included (its reference-moment product too), stays float32. The accuracy change is measured on
held-out cell lines by ``benchmarks/int8_accuracy.py``; the export refuses a file further than ``INT8_TOLERANCE``
from PyTorch.

Weights are unsigned (uint8 x uint8 products). With signed weights, onnxruntime's x86 kernels for CPUs without
VNNI instructions (AVX2 only: most AMD Zen 3 and older Intel machines) add pairs of uint8 x int8 products in 16
bits, which saturates: on such a CPU the signed file was off by up to 0.75 ln µM, while on a VNNI CPU it was
within 0.04. The unsigned products do not saturate on any path, so the file gives the same answer everywhere.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

from drugresponse.train.model.modules import DrugResponseModel

from .fused import FusedModel
from .graph import ExportSpec, export_graph

INT8_TOLERANCE = 0.1  # max |int8 - PyTorch| in ln µM over the parity profiles (the committed file's: model_int8.json)


def write_int8_graph(model: DrugResponseModel, example: dict[str, np.ndarray], path: Path,
                     spec: ExportSpec = ExportSpec()) -> None:
    """Export the folded float32 graph to a temporary file and write its int8 quantisation to ``path``."""
    with tempfile.TemporaryDirectory(prefix=".int8-tmp-", dir=Path(path).parent) as tmp:
        folded = Path(tmp) / "folded.onnx"
        export_graph(FusedModel(model, fold_scaling=True).eval(), example, folded, spec)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantiser suggests a pre-processing pass meant for conv nets
        # the per-sample normalisation's reference moments stay float32: quantising them would shift every sample
        keep = [n.name for n in onnx.load(str(folded)).graph.node
                if n.op_type == "MatMul" and "preprocessor.reference" in n.input]
        try:
            quantize_dynamic(str(folded), str(path), per_channel=True, weight_type=QuantType.QUInt8,
                             nodes_to_exclude=keep)
        finally:
            root.setLevel(level)

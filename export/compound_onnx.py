"""The structure model as ONE ONNX file: Morgan bits and anchor responses in, ln IC50 for every pair out.

Inputs: ``fingerprint`` float32 [compounds, bits] (0/1, from ``drugresponse.compound_structure``) and
``anchor_ln_ic50`` float32 [lines, anchors] (a line's ln IC50 for the screened drugs, NaN = unknown: a GDSC line's
measurements, or the genomic model's predictions for a sample). Outputs: ``ln_ic50`` [compounds, lines],
``scale`` [compounds] (the predicted spread σ̂ the intervals are in units of) and ``similarity`` [compounds, known
drugs] (Tanimoto to the drug tower's training drugs). The Tanimoto kernel and the drug tower run in float64: the
kernel ridge's dual weights are large and cancel. ``write_checked`` saves it and runs the checker and a parity check
against the numpy model (the caller writes to a staging folder).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from drugresponse.errors import UserError

OPSET = 20
TOLERANCE = 1e-4  # max |onnxruntime - numpy| in ln µM


def _const(name: str, values: np.ndarray, dtype=np.float32):
    return numpy_helper.from_array(np.ascontiguousarray(values, dtype=dtype), name)


def build_graph(model) -> onnx.ModelProto:
    tower, lines = model.drugs, model.lines
    bits, rank = tower.fingerprints.shape[1], lines.axes.shape[1]
    known, anchors = tower.fingerprints.shape[0], len(lines.anchor_mean)
    init = [
        _const("known_bits_t", tower.fingerprints.T, np.float64),
        _const("known_counts", tower.fingerprints.sum(axis=1)[None, :], np.float64),
        _const("dual", tower.dual, np.float64), _const("centre", tower.centre[None, :], np.float64),
        _const("anchor_mean", lines.anchor_mean[None, :]), _const("anchor_sd", lines.anchor_sd[None, :]),
        _const("axes", lines.axes), _const("tiny", np.array(1e-12), np.float64), _const("zero", np.array(0.0)),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "s0"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "s1"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "s2"),
        numpy_helper.from_array(np.array([2 + 1 + rank], dtype=np.int64), "s_end"),
    ]
    n = helper.make_node
    nodes = [
        # Tanimoto similarity to the known drugs, in float64
        n("Cast", ["fingerprint"], ["fp64"], to=TensorProto.DOUBLE),
        n("MatMul", ["fp64", "known_bits_t"], ["inter"]),
        n("ReduceSum", ["fp64", "axis1"], ["own_counts"], keepdims=1),
        n("Add", ["own_counts", "known_counts"], ["count_sum"]),
        n("Sub", ["count_sum", "inter"], ["union"]),
        n("Max", ["union", "tiny"], ["union_safe"]),
        n("Div", ["inter", "union_safe"], ["sim64"]),
        n("Cast", ["sim64"], ["similarity"], to=TensorProto.FLOAT),
        # the drug tower: [μ, log σ, a, β] = centre + similarity · dual
        n("MatMul", ["sim64", "dual"], ["spread64"]),
        n("Add", ["spread64", "centre"], ["embed64"]),
        n("Cast", ["embed64"], ["embed"], to=TensorProto.FLOAT),
        n("Slice", ["embed", "s0", "s1", "axis1"], ["mu"]),
        n("Slice", ["embed", "s1", "s2", "axis1"], ["log_sd"]),
        n("Slice", ["embed", "s2", "s_end", "axis1"], ["shape_w"]),
        n("Exp", ["log_sd"], ["sd"]),
        n("Squeeze", ["sd", "axis1"], ["scale"]),
        # the line tower: z̄ (mean over the measured anchors) and the deviations' projection
        n("Sub", ["anchor_ln_ic50", "anchor_mean"], ["centred"]),
        n("Div", ["centred", "anchor_sd"], ["z"]),
        n("IsNaN", ["z"], ["missing"]),
        n("Not", ["missing"], ["present"]),
        n("Cast", ["present"], ["present_f"], to=TensorProto.FLOAT),
        n("Where", ["missing", "zero", "z"], ["z0"]),
        n("ReduceSum", ["z0", "axis1"], ["z_sum"], keepdims=1),
        n("ReduceSum", ["present_f", "axis1"], ["z_count"], keepdims=1),
        n("Div", ["z_sum", "z_count"], ["general"]),
        n("Sub", ["z0", "general"], ["dev_all"]),
        n("Mul", ["dev_all", "present_f"], ["deviations"]),
        n("MatMul", ["deviations", "axes"], ["u"]),
        n("Concat", ["general", "u"], ["line_embed"], axis=1),
        # ŷ[compound, line] = μ + σ · ([a, β] · line_embed)
        n("Transpose", ["line_embed"], ["line_embed_t"], perm=[1, 0]),
        n("MatMul", ["shape_w", "line_embed_t"], ["shape"]),
        n("Mul", ["shape", "sd"], ["scaled"]),
        n("Add", ["scaled", "mu"], ["ln_ic50"]),
    ]
    graph = helper.make_graph(
        nodes, "drugresponse_compound",
        [helper.make_tensor_value_info("fingerprint", TensorProto.FLOAT, ["compounds", bits]),
         helper.make_tensor_value_info("anchor_ln_ic50", TensorProto.FLOAT, ["lines", anchors])],
        [helper.make_tensor_value_info("ln_ic50", TensorProto.FLOAT, ["compounds", "lines"]),
         helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["compounds"]),
         helper.make_tensor_value_info("similarity", TensorProto.FLOAT, ["compounds", known])],
        initializer=init)
    graph_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                    producer_name="drugresponse")
    graph_model.ir_version = 10
    return graph_model


def parity(path, model, fingerprints: np.ndarray, anchors: np.ndarray) -> float:
    """max |onnxruntime - numpy| over the given compounds and lines (anchors may hold NaN)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["ln_ic50"], {"fingerprint": fingerprints.astype(np.float32),
                                    "anchor_ln_ic50": anchors.astype(np.float32)})[0]
    want = model.predict(fingerprints, anchors.astype(np.float32).astype(np.float64)).T
    return float(np.max(np.abs(got - want)))


def write_checked(model, path, fingerprints: np.ndarray, anchors: np.ndarray) -> dict:
    """Write the graph to ``path`` (a staging name) and check it; a UserError if the check fails."""
    graph = build_graph(model)
    onnx.checker.check_model(graph, full_check=True)
    onnx.save(graph, str(path))
    worst = parity(path, model, fingerprints, anchors)
    if not worst <= TOLERANCE:
        raise UserError(f"the compound ONNX graph differs from the fitted model by {worst:.2e} ln µM (tolerance "
                        f"{TOLERANCE}); nothing was written.")
    return {"opset": OPSET, "max_abs_diff": worst, "compounds": len(fingerprints), "lines": len(anchors)}

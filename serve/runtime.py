"""The onnxruntime session: provider choice, session options, and the model's own metadata.

Session options, chosen deliberately:
- graph optimisation ``ORT_ENABLE_ALL``: it widens the float16-stored weights once at load, fuses the
  int8 variant's quantise-multiply-rescale chains into DynamicQuantizeMatMul with its bias, and the
  two slices of the first product into one Split (measured in benchmarks/latency.py);
- ``intra_op_num_threads`` defaults to 1: a request is one small matrix product, and the app serves
  several requests at once, so one thread per request beats threads fighting over the cores;
- execution provider: CUDA when asked for (``cuda``) or available (``auto``), else CPU. onnxruntime
  silently falls back to CPU when CUDA cannot start, so we report the providers the session really uses.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from drugresponse.errors import UserError

OMICS = ("expression", "mutation", "copy_number")  # one value per gene of the ``genes`` metadata
MODALITIES = (*OMICS, "drivers")  # drivers: one value per event of the ``drivers`` metadata
PROVIDERS = ("auto", "cpu", "cuda")


@dataclass
class ModelRuntime:
    """A loaded model: call ``predict`` with raw profiles, read ``genes``, ``drugs`` and ``metadata``."""

    session: ort.InferenceSession
    metadata: dict
    provider: str  # the execution provider actually in use

    @property
    def genes(self) -> list[str]:
        return self.metadata["genes"]

    @property
    def drugs(self) -> list[str]:
        return self.metadata["drugs"]

    @property
    def driver_names(self) -> list[str]:
        return self.metadata["drivers"]

    def features(self, modality: str) -> list[str]:
        """Column names of one input: the genes for the omics, the event names for drivers."""
        return self.driver_names if modality == "drivers" else self.genes

    @property
    def reads(self) -> dict[str, bool]:
        """Which inputs change this model's output (an input the model does not read is still accepted)."""
        return self.metadata["reads"]

    @property
    def features_read(self) -> dict[str, list[str]]:
        """The features of each input that the model reads (its selected genes and kept events)."""
        return self.metadata["features_read"]

    def feed(self, profiles: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The session's inputs: every modality as float32, an absent one as all-unknown (NaN)."""
        n = len(next(iter(profiles.values())))
        return {m: np.ascontiguousarray(profiles[m], dtype=np.float32) if m in profiles
                else np.full((n, len(self.features(m))), np.nan, dtype=np.float32) for m in MODALITIES}

    def predict(self, profiles: dict[str, np.ndarray]) -> np.ndarray:
        """ln IC50 (µM) [samples, drugs] from raw profiles [samples, features] (NaN = missing)."""
        return self.session.run(["ln_ic50"], self.feed(profiles))[0]


def _providers(requested: str) -> list[str]:
    available = ort.get_available_providers()
    if requested == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if requested == "cuda":
        print("warning: --provider cuda was asked for but this onnxruntime has no CUDA execution provider "
              "(install onnxruntime-gpu); using the CPU.", file=sys.stderr)
    return ["CPUExecutionProvider"]


def session_options(threads: int = 1) -> ort.SessionOptions:
    """The options every session of the app and the CLI uses (see the module docstring)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return options


def load_runtime(model_path: Path, provider: str = "auto", threads: int = 1) -> ModelRuntime:
    """Open the ONNX file with the chosen provider; refuse a file that is missing or not ours."""
    if provider not in PROVIDERS:
        raise UserError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}.")
    model_path = Path(model_path)
    if not model_path.is_file():
        raise UserError(f"no model at {model_path}. The repository ships one in assets/; or export your own "
                        f"with `drugresponse export`.")
    try:
        session = ort.InferenceSession(str(model_path), session_options(threads), providers=_providers(provider))
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
        raise UserError(f"cannot load {model_path} with onnxruntime: {exc}") from exc
    custom = session.get_modelmeta().custom_metadata_map
    missing = {"genes", "drivers", "reads", "features_read", "drugs", "units"} - set(custom)
    if missing:
        raise UserError(f"{model_path} lacks the metadata {sorted(missing)}: it was not written by `drugresponse export`.")
    metadata = {k: json.loads(v) for k, v in custom.items()}
    active = session.get_providers()[0]
    if provider == "cuda" and active != "CUDAExecutionProvider":
        print("warning: CUDA could not start; onnxruntime is running on the CPU.", file=sys.stderr)
    return ModelRuntime(session, metadata, active)

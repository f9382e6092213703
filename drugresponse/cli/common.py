"""Options several commands share, and where their files go by default."""

from __future__ import annotations

from pathlib import Path

from drugresponse.paths import DATA_DIR_ENV, WORK_DIR, default_data_dir

RESULTS_DIR = WORK_DIR / "benchmarks" / "results"
CHECKPOINT_DIR = WORK_DIR / "checkpoints" / "both"  # the shipped model learns both screens


def add_data_dir(parser) -> None:
    parser.add_argument("--data-dir", help=f"data folder (default: ${DATA_DIR_ENV} or a per-user cache folder)")


def bundle_path(args) -> Path:
    from drugresponse.train.data.bundle import bundle_dir

    return bundle_dir(Path(args.data_dir) if args.data_dir else default_data_dir())


def add_model_options(parser, dataset: str = "GDSC2") -> None:
    """--data-dir, --dataset, --seed and --preset: what train, evaluate and tune share."""
    add_data_dir(parser)
    parser.add_argument("--dataset", default=dataset, type=str.upper, choices=["GDSC1", "GDSC2", "BOTH"],
                        help=f"which screen to learn (default {dataset.lower() if dataset == 'BOTH' else dataset}); "
                             "both: GDSC2 and GDSC1 as one multi-task matrix, one output per drug and screen, GDSC1's "
                             "named 'drug [GDSC1]' (the shipped model)")
    parser.add_argument("--seed", type=int, default=0, help="seed for folds, inner splits and weights")
    parser.add_argument("--preset", default="full", choices=["full", "quick", "extremes"],
                        help="model settings: full (the published model), quick (seconds, for smoke tests) or "
                             "extremes (an experiment, not shipped: full with each drug's most sensitive training "
                             "pairs weighted 3x in the loss)")


def add_ray_options(parser, tasks: str = "the folds") -> None:
    """--workers and --address: the convention every command that runs on Ray shares."""
    parser.add_argument("--workers", type=int, default=0,
                        help=f"run {tasks} as Ray tasks on this many local workers (default 0: in this process, no "
                             "Ray needed; needs the [scale] extra)")
    parser.add_argument("--address", default=None,
                        help="join this Ray cluster (e.g. 10.0.0.5:6379, or auto) instead of starting a local one; "
                             "also read from RAY_ADDRESS. Every node needs this package installed.")


def add_parallel_options(parser) -> None:
    add_ray_options(parser)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per fit (default 1; results depend on it, so compare runs at the same "
                             "value)")


def add_onnx_options(parser) -> None:
    """--model and --provider: which ONNX file serves, on which onnxruntime execution provider."""
    from drugresponse.paths import ASSETS_DIR

    parser.add_argument("--model", default=str(ASSETS_DIR / "model.onnx"),
                        help="the ONNX model, e.g. assets/model_int8.onnx (default: the committed float32 model); the "
                             "assets beside it are read too")
    parser.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda"],
                        help="onnxruntime execution provider (auto: CUDA when available, else CPU)")


def matrix(args):
    """The response matrix of ``--dataset`` from the bundle of ``--data-dir``."""
    from drugresponse.train.data.response_matrix import open_matrix

    return open_matrix(bundle_path(args), args.dataset)

"""``drugresponse evaluate --split ldo``: run the leave-drug-out evaluation and write its results.

Writes ``<dataset>_ldo.json`` (metrics, bootstrap comparisons, interval calibration, chosen settings),
``<dataset>_ldo.md`` and its short form ``<dataset>_ldo_headline.md``, the out-of-fold predictions ``<dataset>_ldo_predictions.parquet`` (one column per model) and
the drug folds ``folds/<dataset>_ldo_seed<seed>.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from drugresponse.atomic_files import write_json_atomic, write_parquet_atomic, write_text_atomic
from drugresponse.errors import UserError

from .ldo_report import by_similarity, comparisons, headline, intervals, markdown, metrics, wide
from .leave_drug_out import evaluate_ldo


def structures(bundle_path: Path) -> dict[str, str]:
    """Drug name -> SMILES for the drugs the bundle has a structure for."""
    table = pl.read_parquet(Path(bundle_path) / "drugs.parquet").drop_nulls("smiles")
    return dict(zip(table["drug"], table["smiles"]))


def run_ldo(matrix, bundle_path: Path, out_dir: Path, n_folds: int, seed: int, external: bool = True) -> str:
    from tqdm import tqdm

    smiles = structures(bundle_path)
    n = sum(1 for d in matrix.drugs if d in smiles)
    if n < 2 * n_folds:
        raise UserError(f"{matrix.dataset} has {n} drugs with a structure; leave-drug-out needs at least "
                        f"{2 * n_folds} for {n_folds} folds.")
    with tqdm(total=n_folds, desc="leave-drug-out folds", unit="fold") as bar:
        result = evaluate_ldo(matrix, smiles, n_folds, seed, progress=lambda *_: bar.update(1))
    predictions = result["predictions"]
    records, contrasts, calibration = metrics(predictions), comparisons(predictions, seed), intervals(predictions)
    similarity = by_similarity(predictions)
    outside = None
    if external and matrix.dataset == "GDSC2":
        from drugresponse.train.data.response_matrix import open_matrix

        from .external import gdsc1_only
        from .product import fit_product

        model, known, _ = fit_product(matrix, smiles, seed)
        outside = gdsc1_only(model, known, matrix, open_matrix(bundle_path, "GDSC1"), smiles)
    stem = f"{matrix.dataset}_ldo"
    write_parquet_atomic(out_dir / "folds" / f"{stem}_seed{seed}.parquet", result["drug_folds"])
    write_parquet_atomic(out_dir / f"{stem}_predictions.parquet", wide(predictions))
    write_json_atomic(out_dir / f"{stem}.json", {
        "dataset": matrix.dataset, "split": "ldo", "data_sha256": matrix.data_sha256, "seed": seed,
        "folds": n_folds, "drugs_with_structure": n, "records": records, "comparisons": contrasts,
        "intervals": calibration, "by_similarity": similarity, "external_gdsc1": outside,
        "settings": result["settings"]})
    text = markdown(records, contrasts, result["settings"], matrix.data_sha256, seed, similarity)
    if outside:
        from .external import markdown as external_markdown

        text += "\n" + external_markdown(outside)
    write_text_atomic(out_dir / f"{stem}.md", text)
    write_text_atomic(out_dir / f"{stem}_headline.md", headline(records, contrasts, n, matrix.data_sha256, seed))
    return text

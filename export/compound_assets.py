"""``drugresponse export --compound``: fit the shipped structure model and write ``compound.onnx`` with its sidecar
``compound.json`` (fingerprint settings, anchor and known-drug order, interval widths, leave-drug-out figures)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from drugresponse.atomic_files import staged_files
from drugresponse.compound_structure import MAX_HEAVY_ATOMS, MAX_SMILES_CHARS, counter_ion_keys
from drugresponse.errors import UserError
from drugresponse.train.compounds.ldo_results import structures
from drugresponse.train.compounds.product import fit_product

from .compound_onnx import write_checked

FIGURE_MODELS = ("two_tower", "two_tower_shuffled", "cell_line_mean", "knn", "combined")


def leave_drug_out_record(results: Path, data_sha256: str) -> dict:
    path = Path(results) / "GDSC2_ldo.json"
    if not path.is_file():
        raise UserError(f"{path} is missing: run `drugresponse evaluate --split ldo` first (its interval widths and "
                        "figures go into the compound model's sidecar).")
    record = json.loads(path.read_text())
    if record["data_sha256"] != data_sha256:
        raise UserError(f"{path} was computed on bundle {record['data_sha256'][:12]}…, not this one: rerun "
                        "`drugresponse evaluate --split ldo`.")
    return record


def export_compound(matrix, bundle_path: Path, results: Path, out_dir: Path) -> dict:
    import rdkit

    ldo = leave_drug_out_record(results, matrix.data_sha256)
    smiles = structures(bundle_path)
    model, known, chosen = fit_product(matrix, smiles)
    s = model.settings
    from drugresponse.compound_structure import fingerprints

    fp = fingerprints([smiles[d] for d in known], s.radius, s.size)
    anchors = matrix.ln_ic50.copy()
    sidecar = {
        "format": "drugresponse-compound/1", "data_sha256": matrix.data_sha256, "dataset": matrix.dataset,
        "rdkit": rdkit.__version__, "fingerprint": {"kind": "morgan_bits", "radius": s.radius, "size": s.size},
        "limits": {"max_smiles_chars": MAX_SMILES_CHARS, "max_heavy_atoms": MAX_HEAVY_ATOMS},
        "counter_ions": sorted(counter_ion_keys()),
        "anchors": matrix.drugs, "known_drugs": known, "known_smiles": [smiles[d] for d in known], **chosen,
        "intervals": {k: {"level": v["level"], "q": v["q"], "coverage_across_folds": v["coverage_across_folds"],
                          "per_drug_coverage": v["per_drug_coverage"]} for k, v in ldo["intervals"].items()},
        "leave_drug_out": {"seed": ldo["seed"], "folds": ldo["folds"], "drugs": ldo["drugs_with_structure"],
                           "records": [{k: r[k] for k in ("setting", "model", "rmse", "r2", "per_drug_pearson",
                                                         "r2_beyond_naive")}
                                       for r in ldo["records"] if r["model"] in FIGURE_MODELS],
                           "comparisons": ldo["comparisons"], "by_similarity": ldo["by_similarity"],
                           "external_gdsc1": {k: ldo["external_gdsc1"][k] for k in ("drugs", "lines", "records")}
                           if ldo.get("external_gdsc1") else None},
    }
    with staged_files(out_dir, ["compound.onnx", "compound.json"]) as staging:
        rows = np.random.default_rng(0).choice(len(anchors), size=min(64, len(anchors)), replace=False)
        check = write_checked(model, staging / "compound.onnx", fp, anchors[rows])
        sidecar["parity"] = check
        (staging / "compound.json").write_text(json.dumps(sidecar, indent=1))
    return {"settings": chosen["settings"], "known_drugs": len(known), "parity": check,
            "bytes": (Path(out_dir) / "compound.onnx").stat().st_size}

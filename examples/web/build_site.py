"""Write the static browser site: the page, onnxruntime-web's and RDKit's WASM files, the genomic and structure models
and the GDSC lines' profiles.

    cd examples/web && npm ci --ignore-scripts && cd ../..
    python examples/web/build_site.py [--assets assets] [--model model.onnx] [--out examples/web/site]

Host the output folder on any static host (GitHub Pages, a static Hugging Face Space, `python -m http.server`).
Each GDSC line is one small file the page fetches when chosen (expression float32; mutation, copy number and
driver events int8 with -128 for unknown), so the page downloads the model and only the lines it shows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENDOR = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
RDKIT = ("RDKit_minimal.js", "RDKit_minimal.wasm")  # @rdkit/rdkit: the structure's fingerprint, on the page


def build(assets: Path, model: str, out: Path) -> Path:
    from drugresponse.atomic_files import atomic_folder
    from drugresponse.serve.catalog import Catalog

    dist = HERE / "node_modules" / "onnxruntime-web" / "dist"
    if not dist.is_dir():
        sys.exit("error: onnxruntime-web is not installed; run `npm ci --ignore-scripts` in examples/web first.")
    if not (assets / model).is_file():
        sys.exit(f"error: no model {assets / model}; the repository ships assets/model.onnx.")
    from drugresponse.serve.compounds import gdsc_line_anchors
    from drugresponse.serve.runtime import load_runtime

    sidecar = json.loads((assets / model).with_suffix(".json").read_text())
    catalog = Catalog.load(assets)
    compound = json.loads((assets / "compound.json").read_text())
    # a GDSC line's side for a new compound is its measured responses, as in the app (predicted where it has none)
    anchors, predicted = gdsc_line_anchors(catalog, load_runtime(assets / "model.onnx", "cpu"), compound["anchors"])
    with atomic_folder(out) as site:  # the old site stays whole until the new one is complete
        (site / "vendor").mkdir()
        (site / "lines").mkdir()
        for name in ("index.html", "app.mjs"):
            shutil.copyfile(HERE / name, site / name)
        for name in VENDOR:
            shutil.copyfile(dist / name, site / "vendor" / name)
        rdkit = HERE / "node_modules" / "@rdkit" / "rdkit" / "dist"
        if not rdkit.is_dir():
            sys.exit("error: @rdkit/rdkit is not installed; run `npm ci --ignore-scripts` in examples/web first.")
        for name in RDKIT:
            shutil.copyfile(rdkit / name, site / "vendor" / name)
        # the browser and Node read a structure with the same code
        shutil.copyfile(ROOT / "examples" / "node" / "structure.mjs", site / "structure.mjs")
        shutil.copyfile(assets / "compound.onnx", site / "compound.onnx")
        (site / "compound.json").write_text(json.dumps({k: compound[k] for k in ("fingerprint", "limits", "intervals",
                                                                                 "known_drugs", "anchors",
                                                                                 "counter_ions")}))
        shutil.copyfile(assets / model, site / "model.onnx")
        keep = ("genes", "drivers", "drugs", "reads", "features_read", "units", "precision", "model_version",
                "input_names", "output_names")
        (site / "model.json").write_text(json.dumps({k: sidecar[k] for k in keep}))
        (site / "catalog.json").write_text(json.dumps({"cell_lines": catalog.cell_lines["cell_line"].to_list(),
                                                      "tissues": catalog.cell_lines["tissue"].to_list(),
                                                      "anchors_predicted": predicted.tolist()}))
        profiles = catalog.profiles
        for i in range(catalog.cell_lines.height):
            codes = [np.where(np.isnan(profiles[m][i]), -128, profiles[m][i]).astype(np.int8).tobytes()
                     for m in ("mutation", "copy_number", "drivers")]
            (site / "lines" / f"{i}.bin").write_bytes(profiles["expression"][i].astype("<f4").tobytes() + b"".join(codes))
            (site / "lines" / f"{i}.anchors.bin").write_bytes(anchors[i].astype("<f4").tobytes())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=Path, default=ROOT / "assets")
    parser.add_argument("--model", default="model.onnx", help="model file in --assets, e.g. model_int8.onnx")
    parser.add_argument("--out", type=Path, default=HERE / "site")
    args = parser.parse_args()
    print(f"wrote {build(args.assets, args.model, args.out)}")


if __name__ == "__main__":
    main()

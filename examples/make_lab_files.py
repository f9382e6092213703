"""Write ``examples/lab_files/``: real GDSC lines' profiles in the shapes labs' files come in.

    python examples/make_lab_files.py

From the committed catalog (``assets/``): BT-474 (ERBB2-amplified breast) as RSEM output with a gene and
protein-change list, A375 (BRAF-mutant melanoma) as Salmon output with an annotated VCF, three lines as an nf-core
merged TPM table with Ensembl IDs, a GCT file, and a plain-text alteration list. Genes are named as the pipelines name
them (Ensembl IDs, current HGNC symbols, from ``assets/gene_identifiers.parquet``); expression is written as TPM.
The writers are the ones the round-trip tests use (``tests/fixtures/lab_files.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
import lab_files  # noqa: E402

from drugresponse.atomic_files import write_bytes_atomic  # noqa: E402
from drugresponse.paths import ASSETS_DIR  # noqa: E402
from drugresponse.serve.catalog import Catalog  # noqa: E402

OUT = Path(__file__).resolve().parent / "lab_files"


def names_from_assets(genes: list[str]) -> dict[str, dict[str, str]]:
    table = pl.read_parquet(ASSETS_DIR / "gene_identifiers.parquet")
    out: dict[str, dict[str, str]] = {g: {} for g in genes}
    for key, symbol, rule in table.select("identifier", "symbol", "rule").iter_rows():
        if symbol in out and rule == "ensembl":
            out[symbol].setdefault("ensembl", key)
        elif symbol in out and rule == "approved":
            out[symbol]["current"] = key
    return out


def main() -> None:
    catalog = Catalog.load(ASSETS_DIR)
    import json

    meta = json.loads((ASSETS_DIR / "model.json").read_text())
    genes, events = meta["genes"], meta["drivers"]
    names = names_from_assets(genes)
    row = {c: catalog.row(c) for c in ("BT-474", "A375", "K-562", "MCF7")}
    expression = {c: catalog.profiles["expression"][r].astype(float) for c, r in row.items()}
    files = {
        "BT-474.genes.results": lab_files.rsem(genes, names, expression["BT-474"]),
        "BT-474_mutations.csv": lab_files.gene_change_list(
            "BT-474", lab_files.alterations(events, catalog.profiles["drivers"][row["BT-474"]])),
        "quant.genes.sf": lab_files.salmon(genes, names, expression["A375"]),
        "A375.vcf": lab_files.vcf("A375", lab_files.alterations(events, catalog.profiles["drivers"][row["A375"]])),
        "salmon.merged.gene_tpm.tsv": lab_files.nf_core_merged(genes, names, {c: expression[c] for c in
                                                                              ("BT-474", "A375", "K-562")}),
        "MCF7.gct": lab_files.gct(genes, {"MCF7": expression["MCF7"]}),
        "A375_alterations.txt": lab_files.item_text(
            lab_files.alterations(events, catalog.profiles["drivers"][row["A375"]])),
    }
    OUT.mkdir(exist_ok=True)
    for name, data in files.items():
        write_bytes_atomic(OUT / name, data)
        print(f"wrote {OUT / name} ({len(data) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

"""A compound's structure the same way everywhere: standardised SMILES in, Morgan bits out.

The policy, which ``examples/node/compound.mjs`` repeats with ``@rdkit/rdkit`` (a test checks every GDSC SMILES gives
the same bits in both):

- refuse what is not a SMILES string of printable characters of at most ``MAX_SMILES_CHARS``, and what RDKit cannot
  parse, with the reason;
- keep the largest fragment by heavy atoms (the first of equals): strips salts, counter-ions and solvents;
- refuse a kept fragment of more than ``MAX_HEAVY_ATOMS`` heavy atoms (biologics, polymers: outside what the model
  learned, and a bound on the work one request can cause) or of fewer than 2 (a lone ion). Metal complexes written
  with disconnected ligands keep their largest piece (cisplatin ``N.N.Cl[Pt]Cl`` is read as ``[Cl][Pt][Cl]``);
- no tautomer or charge canonicalisation: RDKit's WebAssembly build has no standardiser, so doing it in Python only
  would make the browser's bits differ. The structure is read as drawn, which GDSC's SMILES are.

Morgan bits (radius and size from the model's sidecar): counts are not offered because the WebAssembly build cannot
compute them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drugresponse.errors import UserError

MAX_SMILES_CHARS = 2_000
MAX_HEAVY_ATOMS = 150


@dataclass(frozen=True)
class Compound:
    smiles: str  # canonical SMILES of the kept fragment
    heavy_atoms: int
    fragments_dropped: int
    mol: object  # rdkit.Chem.Mol of the kept fragment


def _rdkit():
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # parse errors become our message, not stderr noise
    return Chem


def standardise(smiles: str) -> Compound:
    """The kept fragment of ``smiles``; a UserError naming the problem when it cannot be used."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise UserError("give a SMILES string, e.g. CC(=O)Oc1ccccc1C(=O)O (aspirin).")
    smiles = smiles.strip()
    if len(smiles) > MAX_SMILES_CHARS:
        raise UserError(f"the SMILES has {len(smiles):,} characters; at most {MAX_SMILES_CHARS:,} are accepted.")
    if not smiles.isascii() or not smiles.isprintable() or any(c.isspace() for c in smiles):
        raise UserError("a SMILES string is printable ASCII without spaces; give one compound per string.")
    Chem = _rdkit()
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise UserError(f"RDKit cannot read {smiles[:60]!r}{'…' if len(smiles) > 60 else ''} as SMILES (a syntax "
                        "error, an unclosed ring or an impossible valence); check it in a structure editor.")
    fragments = Chem.GetMolFrags(mol, asMols=True)
    sizes = [f.GetNumHeavyAtoms() for f in fragments]
    kept = fragments[int(np.argmax(sizes))]
    heavy = kept.GetNumHeavyAtoms()
    if heavy > MAX_HEAVY_ATOMS:
        raise UserError(f"the compound has {heavy} heavy atoms; the model learned small molecules and accepts at "
                        f"most {MAX_HEAVY_ATOMS} (biologics and polymers are outside it).")
    if heavy < 2:
        raise UserError("the largest fragment is a single atom or ion: give the drug itself, not a salt.")
    return Compound(Chem.MolToSmiles(kept), heavy, len(fragments) - 1, kept)


def morgan_bits(compound: Compound, radius: int, size: int) -> np.ndarray:
    """float32 [size] of 0/1: the kept fragment's Morgan fingerprint."""
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=size)
    return generator.GetFingerprintAsNumPy(compound.mol).astype(np.float32)


def fingerprints(smiles: list[str], radius: int, size: int) -> np.ndarray:
    """float32 [len(smiles), size]; a UserError naming the first SMILES that cannot be used."""
    out = np.zeros((len(smiles), size), dtype=np.float32)
    for i, s in enumerate(smiles):
        out[i] = morgan_bits(standardise(s), radius, size)
    return out


def depiction_png(compound: Compound, size: int = 360):
    """A PIL image of the kept fragment (RDKit's own drawing)."""
    from rdkit.Chem import Draw

    return Draw.MolToImage(compound.mol, size=(size, size))

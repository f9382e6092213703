"""A compound's structure the same way everywhere: standardised SMILES in, Morgan bits out.

The policy, which ``examples/node/compound.mjs`` repeats with ``@rdkit/rdkit`` (a test checks every GDSC SMILES gives
the same bits in both):

- refuse what is not a SMILES string of printable characters of at most ``MAX_SMILES_CHARS``, and what RDKit cannot
  parse, with the reason;
- drop the fragments that are common counter-ions or solvents (``COUNTER_IONS``, matched by the connectivity block of
  their InChIKey, so any protonation state and drawing of them matches), unless nothing else is left; then keep the
  largest fragment by heavy atoms (the first of equals). Hydroxyzine pamoate keeps hydroxyzine although pamoic acid
  is larger;
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
# pharmaceutical counter-ions (acids and bases of salts) and crystallisation solvents, neutral forms
COUNTER_IONS = (
    "Cl", "Br", "I", "F", "O", "OS(=O)(=O)O", "OP(=O)(O)O", "O[N+](=O)[O-]", "OCl(=O)(=O)=O",
    "CS(=O)(=O)O", "CCS(=O)(=O)O", "OS(=O)(=O)c1ccccc1", "Cc1ccc(cc1)S(=O)(=O)O", "OS(=O)(=O)c1ccc2ccccc2c1",
    "CC1(C)C2CCC1(CS(=O)(=O)O)C(=O)C2", "OS(=O)(=O)CCS(=O)(=O)O",
    "OC=O", "CC(=O)O", "OC(=O)C(F)(F)F", "CCC(=O)O", "CC(O)C(=O)O", "OC(=O)C=CC(=O)O", "OC(=O)CCC(=O)O",
    "OC(=O)C(O)C(O)C(=O)O", "OC(=O)CC(O)(CC(=O)O)C(=O)O", "OC(=O)CC(O)C(=O)O", "OC(=O)C(=O)O", "OC(=O)CC(=O)O",
    "OC(=O)c1ccccc1", "OC(=O)c1ccccc1O", "OC(=O)CNC(=O)c1ccccc1", "CCCCCCCCCCCCCCCCCC(=O)O",
    "OC(=O)c1cc2ccccc2c(Cc2c(O)c(cc3ccccc23)C(=O)O)c1O", "OCC(O)C(O)C(O)C(O)C(=O)O",
    "CNCC(O)C(O)C(O)C(O)CO", "NC(CO)(CO)CO", "CCNCC", "NCCO", "C[N+](C)(C)CCO", "NCCCCC(N)C(=O)O",
    "NC(=N)NCCCC(N)C(=O)O", "N",
    "CO", "CCO", "CC(C)O", "CC(C)=O", "CS(C)=O", "CN(C)C=O", "CC#N", "CCOC(C)=O", "ClCCl", "ClC(Cl)Cl", "C1CCOC1",
    "CCOCC", "c1ccncc1",
)


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
    if len(fragments) > 1:
        ions = counter_ion_keys()
        drug = [f for f in fragments if connectivity_key(f) not in ions]
        fragments_left = drug or fragments
    else:
        fragments_left = fragments
    sizes = [f.GetNumHeavyAtoms() for f in fragments_left]
    kept = fragments_left[int(np.argmax(sizes))]
    heavy = kept.GetNumHeavyAtoms()
    if heavy > MAX_HEAVY_ATOMS:
        raise UserError(f"the compound has {heavy} heavy atoms; the model learned small molecules and accepts at "
                        f"most {MAX_HEAVY_ATOMS} (biologics and polymers are outside it).")
    if heavy < 2:
        raise UserError("the largest fragment is a single atom or ion: give the drug itself, not a salt.")
    return Compound(Chem.MolToSmiles(kept), heavy, len(fragments) - 1, kept)


def connectivity_key(mol) -> str:
    """The first block of the InChIKey: the skeleton, whatever the protonation, charge or stereo drawn."""
    from rdkit import Chem

    return Chem.MolToInchiKey(mol)[:14]


_COUNTER_ION_KEYS: set[str] = set()


def counter_ion_keys() -> set[str]:
    """``COUNTER_IONS`` as connectivity keys (written to compound.json for the other runtimes)."""
    if not _COUNTER_ION_KEYS:
        Chem = _rdkit()
        _COUNTER_ION_KEYS.update(connectivity_key(Chem.MolFromSmiles(s)) for s in COUNTER_IONS)
    return _COUNTER_ION_KEYS


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

"""Reading a compound: salts stripped, what cannot be used refused with a reason, the same bits every time."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from drugresponse.compound_structure import MAX_HEAVY_ATOMS, MAX_SMILES_CHARS, fingerprints, morgan_bits, standardise
from drugresponse.errors import UserError

GDSC_SMILES = json.loads((Path(__file__).parent / "fixtures" / "gdsc_smiles.json").read_text())["smiles"]
IMATINIB = "CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)C5=CN=CC=C5"


def test_a_salt_and_a_solvent_are_removed_and_the_drug_kept():
    plain = standardise(IMATINIB)
    salt = standardise(IMATINIB + ".CS(=O)(=O)O.O")
    assert salt.smiles == plain.smiles and salt.fragments_dropped == 2 and plain.fragments_dropped == 0
    np.testing.assert_array_equal(morgan_bits(salt, 2, 2048), morgan_bits(plain, 2, 2048))


@pytest.mark.parametrize("salt,drug", [
    ("CN1CCN(CC1)C(c1ccccc1)c1ccc(Cl)cc1.OC(=O)c1cc2ccccc2c(Cc2c(O)c(cc3ccccc23)C(=O)O)c1O",  # a pamoate: larger ion
     "CN1CCN(C(c2ccccc2)c2ccc(Cl)cc2)CC1"),
    ("CN(C)C(=N)N=C(N)N.Cc1ccc(cc1)S(=O)(=O)[O-]", "CN(C)C(=N)N=C(N)N"),  # a tosylate, ionised
    ("OC(=O)/C=C\\C(=O)O.OC(=O)/C=C\\C(=O)O.CCO.O.c1ccc2ccccc2c1", "c1ccc2ccccc2c1"),  # maleates and solvents
    ("CC(=O)O.CCO", "CC(=O)O"),  # nothing but counter-ions: the largest is kept
])
def test_counter_ions_and_solvents_are_removed_even_when_larger(salt, drug):
    assert standardise(salt).smiles == standardise(drug).smiles


def test_a_metal_complex_keeps_its_largest_piece():
    kept = standardise("N.N.Cl[Pt]Cl")  # cisplatin as GDSC writes it
    assert kept.smiles == "[Cl][Pt][Cl]" and kept.fragments_dropped == 2


@pytest.mark.parametrize("smiles,words", [
    ("", "give a SMILES"), ("   ", "give a SMILES"), ("C1CC", "cannot read"), ("/etc/passwd", "cannot read"),
    ("CCO CCN", "without spaces"), ("CCé", "ASCII"), ("C" * (MAX_SMILES_CHARS + 1), "at most"),
    ("[Na+].[Cl-]", "single atom"), ("C" * (MAX_HEAVY_ATOMS + 1), "heavy atoms"),
])
def test_what_cannot_be_used_is_refused_with_the_reason(smiles, words):
    with pytest.raises(UserError, match=words):
        standardise(smiles)


def test_the_longest_accepted_string_is_read_quickly():
    nasty = "C1" + "C2CC3" * 150  # unclosed rings over the whole length: the parser has to give up
    for smiles in (nasty[:MAX_SMILES_CHARS], "c1ccccc1" * 250):
        start = time.perf_counter()
        with pytest.raises(UserError):
            standardise(smiles)
        assert time.perf_counter() - start < 2.0


def test_every_gdsc_structure_is_read_and_bits_are_deterministic():
    smiles = list(GDSC_SMILES.values())
    assert len(smiles) == 414
    first, second = fingerprints(smiles, 2, 2048), fingerprints(smiles, 2, 2048)
    np.testing.assert_array_equal(first, second)
    assert set(np.unique(first)) == {0.0, 1.0} and (first.sum(axis=1) > 0).all()

"""One real fixture line's expression as a lab's TPM table, and helpers to read mutation lists beside it: shared by
the tests of lab files and of mutation lists (the fixtures are registered in ``conftest.py``)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from drugresponse.serve.uploads import parse_profiles

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import lab_files  # noqa: E402

ERBB2_REGION = "gain_cnaPANCAN301_(CDK12,ERBB2,MED24)"
ROW = 4


@pytest.fixture(scope="module")
def names(bundle):
    from .conftest import FIXTURES, HGNC_FIXTURE

    return lab_files.hgnc_names(FIXTURES / "sources" / HGNC_FIXTURE, bundle.genes)


@pytest.fixture(scope="module")
def sample(bundle):
    return bundle.cell_lines["cell_line"][ROW]


@pytest.fixture(scope="module")
def expression(bundle, names, sample):
    """One real sample's TPM, genes as rows."""
    return lab_files.genes_as_rows(bundle.genes, names, {sample: bundle.profiles["expression"][ROW]})


def events_set(report, schema) -> dict[str, float]:
    drivers = report.profiles["drivers"][0]
    return {schema.features["drivers"][j]: float(drivers[j]) for j in np.flatnonzero(np.isfinite(drivers))}


def with_mutations(expression, schema, data: bytes, name: str = "calls.csv"):
    return parse_profiles(expression, schema, name="tpm.tsv", mutations=data, mutations_name=name)

"""Users' own sample profiles: read within limits, mapped onto the model's inputs, checked, and reported.

``file_types`` says which files are accepted (the app's file picker offers its ``FILE_TYPES``); ``tables`` opens a
file (delimited text or parquet) and reads it in chunks; ``app_layouts`` reads the app's long and wide layouts;
``identifiers`` maps gene and event names (Ensembl IDs, HGNC symbols, aliases); ``samples`` holds samples' arrays as
they are read; ``validate`` checks values and coverage; ``reader`` runs the whole path for the app
(``parse_profiles``) and the batch CLI (``read_cohort``); ``limits`` bounds what one file may cost.
"""

from .cohort import read_cohort, read_mutation_file
from .file_types import FILE_TYPES
from .limits import APP, BATCH, Limits
from .reader import parse_profiles
from .schema import ProfileSchema
from .validate import FLAG_BELOW, REFUSE_BELOW, UploadReport

__all__ = ["APP", "BATCH", "FILE_TYPES", "FLAG_BELOW", "REFUSE_BELOW", "Limits", "ProfileSchema", "UploadReport",
           "parse_profiles", "read_cohort", "read_mutation_file"]

FORMAT_HELP = """Two layouts are accepted (column names are case-insensitive), as comma- or tab-separated text or parquet:

- long: columns `sample, gene, modality, value`, one row per measurement; `modality` is `expression`, `mutation`,
  `copy_number` or `driver` (then `gene` names the event, e.g. `BRAF_mut`);
- wide: a `sample` column, then one column per measurement named `expression:GENE`, `mutation:GENE`,
  `copy_number:GENE` or `driver:EVENT`.

Genes may be named by the model's symbol, a current or previous HGNC symbol or an Ensembl gene ID, in any case.
Expression on one sample's own scale: log (log2 TPM/FPKM, microarray log intensities, within-sample z-scores) or
linear (TPM, FPKM, counts: put on the log scale as log2(x + 1), and said so); each sample is normalised inside the
model against where its measured genes sit in a typical GDSC line. Mutation 0/1; copy number -1 (loss), 0, 1
(gain); driver events 0/1 (GDSC's cancer functional events: `BRAF_mut`, `TP53_mut`, `BCR-ABL_mut`, `ERBB2_amp` for
the amplified region that holds ERBB2, `MSI_FACTOR`...). A panel result is enough for drivers: give the events you
know (`BRAF_mut` = 1, `TP53_mut` = 0); an event you leave out is unknown, which the model never reads as absent.
Names the model does not know are ignored and counted; features it reads but the file lacks are imputed inside the
model (training mean) and counted. Empty cells, NA, NaN, N/A and null are missing. A sample needs expression for at
least half of the model's expression genes; one with fewer than 90% of them is flagged."""

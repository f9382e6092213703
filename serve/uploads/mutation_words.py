"""What the change written beside a gene in a mutation list says: a mutation, wild type, unknown, a gain or loss of
copy number, a fusion, a silent change, or nothing this reader understands.

``classify`` is the vocabulary of the rule written down in ``mutation_lists``; it decides nothing about events. Words
are compared in lower case with runs of spaces as one space and a leading ``p.`` (HGVS protein) removed. Anything not
listed here, and not shaped like a protein change, is ``NOT_UNDERSTOOD``: reported, never guessed.
"""

from __future__ import annotations

import re

MUTATED, WILD_TYPE, UNKNOWN, GAIN, NOT_GAINED, LOSS = "mutated", "wild type", "unknown", "gain", "not gained", "loss"
FUSION, SILENT, NOT_UNDERSTOOD = "fusion", "silent", "not understood"

# VEP / Sequence Ontology terms (also snpEff's) and MAF Variant_Classification values that change the protein
PROTEIN_ALTERING = {
    "missense_variant", "stop_gained", "frameshift_variant", "splice_acceptor_variant", "splice_donor_variant",
    "inframe_insertion", "inframe_deletion", "start_lost", "stop_lost", "protein_altering_variant",
    "disruptive_inframe_insertion", "disruptive_inframe_deletion", "conservative_inframe_insertion",
    "conservative_inframe_deletion", "exon_loss_variant",
    "missense_mutation", "nonsense_mutation", "frame_shift_del", "frame_shift_ins", "in_frame_del", "in_frame_ins",
    "splice_site", "translation_start_site", "nonstop_mutation",
}
# the same sources' classes that leave the protein as it is
NOT_ALTERING = {"silent", "synonymous", "synonymous_variant", "=", "intron", "intron_variant", "3'utr", "5'utr",
                "3_prime_utr_variant", "5_prime_utr_variant", "splice_region", "splice_region_variant", "igr",
                "intergenic_region", "intergenic_variant", "upstream_gene_variant", "downstream_gene_variant",
                "5'flank", "3'flank", "rna", "non_coding_transcript_exon_variant", "stop_retained_variant"}
UNKNOWN_WORDS = {"", "unknown", "na", "n/a", "nan", "null", "?", "not tested", "untested", "not done", "not assessed",
                 "not evaluated", "not available", "failed", "indeterminate", "equivocal",
                 # GDSC's events are functional cancer events: a variant of unknown significance is not known to be one
                 "vus", "variant of unknown significance", "variant of uncertain significance", "unknown significance",
                 "uncertain significance"}
WILD_TYPE_WORDS = {"wt", "wild type", "wildtype", "wild-type", "negative", "neg", "not detected", "none", "absent",
                   "no", "no mutation", "no mutation detected", "mutation not detected", "not mutated", "unmutated",
                   "non-mutated"}
MUTATION_WORDS = {"mut", "mutant", "mutated", "mutation", "variant", "missense", "nonsense", "frameshift",
                  "frame shift", "frame-shift", "splice", "splice site", "splice-site", "truncating", "truncation",
                  "inframe deletion", "in-frame deletion", "inframe insertion", "in-frame insertion", "indel",
                  "pathogenic", "likely pathogenic", "oncogenic", "likely oncogenic", "hotspot", "protein_altering"}
# a phrase made only of these, with at least one word of MUTATION_WORDS: "missense mutation", "mutation detected"
_MUTATION_PHRASE = {"mutation", "mutated", "mutant", "variant", "detected", "positive", "somatic", "activating",
                    "likely", "site", "present"}
# GDSC's regions are called amplifications and deletions: a "gain" or a "loss" may be one copy, so it is not one
GAIN_WORDS = {"amp", "amplification", "amplified", "high copy number", "high-level amplification", "focal amplification",
              "overexpression", "overexpressed", "over-expression", "over-expressed"}
ONE_COPY_WORDS = {"gain", "gained", "copy number gain", "cn gain", "loss", "copy number loss", "cn loss",
                  "heterozygous deletion", "hetloss", "shallow deletion"}
NOT_GAINED_WORDS = {"not amplified", "no amplification", "non-amplified", "non amplified"}
LOSS_WORDS = {"del", "deletion", "deleted", "homozygous deletion", "homdel", "deep deletion"}
FUSION_WORDS = {"fusion", "fusion detected", "rearrangement", "rearranged", "translocation"}
FOUND_WORDS = {"", "positive", "pos", "detected", "present", "1", "yes", "true"}  # found, for a fusion's own name
STATUS_WORDS = {"1": MUTATED, "yes": MUTATED, "y": MUTATED, "true": MUTATED,
                "0": WILD_TYPE, "no": WILD_TYPE, "n": WILD_TYPE, "false": WILD_TYPE}
# clinical status words that are a copy-number status for these genes (HER2 positive: amplified or overexpressed)
COPY_NUMBER_STATUS_GENES = {"ERBB2"}

_AA = r"(?:ala|arg|asn|asp|cys|gln|glu|gly|his|ile|leu|lys|met|phe|pro|ser|thr|trp|tyr|val|sec|pyl|[acdefghiklmnpqrstvwy])"
_STOP = r"(?:\*|x|ter)"
_SUBSTITUTION = re.compile(rf"^({_AA})(\d+)({_AA}|{_STOP})$")  # v600e, val600glu, r130*, q61k; codon only: g12
_PROTEIN = [re.compile(p) for p in (
    rf"^{_AA}\d+$",  # a codon (KRAS G12): a variant there
    rf"^(?:{_AA}|{_STOP})\d+(?:{_AA}|{_STOP})?fs(?:{_STOP}|\?)?\d*$",  # frameshift: r130fs, k132nfs*5
    rf"^{_AA}\d+(?:_{_AA}\d+)?(?:del|dup|ins|delins)(?:[a-z*]*\d*)?$",  # e746_a750del, a767_v769dup, d770_n771insnpg
    rf"^{_STOP}\d+{_AA}ext(?:{_STOP}|\?)?\d*\??$",  # stop lost: *394lext*14
    rf"^(?:{_AA})1\?$",  # start lost: m1?
)]
_EXON = re.compile(r"^exon \d+ (?:deletion|del|insertion|ins|duplication|dup|skipping|mutation|skip)$"
                   r"|^(?:ex|exon)\s?\d+\s?(?:del|ins|dup|skip)$|^(?:del|ins|dup)\s?(?:ex|exon)?\s?\d+$")  # ex19del, del19
_COPIES = re.compile(r"^(?:cn|tcn|copy number|copy-number|copies|total copy number)\s*[=:]?\s*(\d+(?:\.\d+)?)$"
                     r"|^(\d+(?:\.\d+)?)\s*copies$")
AMPLIFIED_COPIES = 9  # whatever the ploidy (COSMIC's gene-level rule for cell lines: 5 suffices when near-diploid)


def normalise(change: str) -> str:
    """Lower case, one space between words, no HGVS ``p.`` prefix or parentheses: ``p.(V600E)`` -> ``v600e``."""
    words = [re.sub(r"^p\.", "", w.strip("(),;")).strip("()") for w in change.strip().lower().split()]
    return " ".join(w for w in words if w)


def protein_change(token: str) -> str | None:
    """``MUTATED`` or ``SILENT`` for a token shaped like a protein change, else None."""
    match = _SUBSTITUTION.match(token)
    if match:
        return SILENT if match.group(1) == match.group(3) else MUTATED
    return MUTATED if any(p.match(token) for p in _PROTEIN) else None


def copies(text: str) -> tuple[str, str] | None:
    """A copy number written as ``CN=12``, ``copy number 0`` or ``12 copies``: (GAIN, LOSS or UNKNOWN, why), else None."""
    match = _COPIES.match(text)
    if not match:
        return None
    n = float(match.group(1) or match.group(2))
    if n >= AMPLIFIED_COPIES:
        return GAIN, ""
    if n == 0:
        return LOSS, ""
    return UNKNOWN, (f"{n:g} copies: a gain or loss only for some ploidies (≥ {AMPLIFIED_COPIES} copies is a gain, 0 a "
                     "loss, whatever the ploidy); write amp or del if the lab called it")


def classify(change: str, fusion: bool = False, status: bool = False, gene: str = "") -> tuple[str, str]:
    """(what the change says, why, for the report when it is ``UNKNOWN`` or ``NOT_UNDERSTOOD``).

    ``fusion``: the name is a fusion or another event GDSC names (``BCR-ABL1``, ``ERBB2_amp``); ``status``: the change comes from a status column,
    where 1/yes/true mean mutated; ``gene``: GDSC's symbol, for genes whose clinical status words are copy number."""
    text = normalise(change)
    if fusion and (text in FOUND_WORDS or text in FUSION_WORDS or text in MUTATION_WORDS):
        return FUSION, ""  # a fusion (or event) named on its own is one found
    if text in UNKNOWN_WORDS:
        return UNKNOWN, "left unknown" if text else "no change given"
    if status and text in STATUS_WORDS:
        return STATUS_WORDS[text], ""
    if gene.upper() in COPY_NUMBER_STATUS_GENES and text in ("positive", "pos", "negative", "neg"):
        return (GAIN if text.startswith("pos") else NOT_GAINED), ""
    if text in WILD_TYPE_WORDS:
        return WILD_TYPE, ""
    if fusion:
        return NOT_UNDERSTOOD, "expected fusion, positive or negative"
    if text in FUSION_WORDS:
        return FUSION, ""
    if text in NOT_ALTERING or text.endswith("="):
        return SILENT, ""
    if text in PROTEIN_ALTERING or text in MUTATION_WORDS:
        return MUTATED, ""
    words = text.split()
    if any(w in MUTATION_WORDS for w in words) and all(w in MUTATION_WORDS or w in _MUTATION_PHRASE for w in words):
        return MUTATED, ""
    if text in ONE_COPY_WORDS:
        return UNKNOWN, ("a gain or loss may be one copy, and GDSC's regions are called amplifications and "
                         "deletions: write amp, or homozygous deletion, if the lab called one")
    if text in GAIN_WORDS:
        return GAIN, ""
    if text in NOT_GAINED_WORDS:
        return NOT_GAINED, ""
    if text in LOSS_WORDS:
        return LOSS, ""
    if _EXON.match(text):
        return MUTATED, ""
    counted = copies(text)
    if counted:
        return counted
    return _protein_words(words)


def _protein_words(words: list[str]) -> tuple[str, str]:
    """A phrase holding a protein change (``V600E``, ``G12C (c.34G>T)``, ``R273H missense``), and no word that could
    negate or doubt it (``V600E not detected`` is not read as a mutation)."""
    calls = [c for w in words if (c := protein_change(w.strip(",;")))]
    doubt = {"not", "no", "negative", "absent", "wt", "wild", "unknown", "vus", "uncertain", "?", "without"}
    if not calls and any(w.startswith("c.") for w in words):
        return NOT_UNDERSTOOD, "a DNA change says nothing of its effect on the protein: give the protein change"
    if not calls or any(w in doubt for w in words):
        return NOT_UNDERSTOOD, ("expected a protein change (V600E, p.Val600Glu), a class (missense, frameshift), "
                                "WT, unknown, amp or del")
    return (MUTATED, "") if MUTATED in calls else (SILENT, "")

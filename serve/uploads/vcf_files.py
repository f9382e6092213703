"""An annotated VCF read as (samples that carry it, genes whose protein it changes), record by record.

- the column line must hold VCF's 8 fixed columns (``#CHROM POS ID REF ALT QUAL FILTER INFO``), then ``FORMAT`` and
  one column per sample; a file that declares itself a VCF but does not is refused, naming what it has;
- genes come from VEP's ``CSQ`` or snpEff's ``ANN`` annotation (a record's protein-altering consequences); a VCF
  without either is refused with what to do, since positions alone name no gene;
- only records whose FILTER is PASS or ``.`` count; a sample carries a record when its genotype holds an alternative
  allele, and it gets the genes of that allele's annotations only: at a multi-allelic site (``ALT`` of ``T,G``) a
  sample whose genotype is ``0/1`` carries ``T``'s consequence, not ``G``'s. An annotation's allele is matched to
  ``ALT`` by VEP's ``ALLELE_NUM``, else as VEP writes it (the base shared with ``REF`` and every ``ALT`` trimmed,
  ``-`` for none left) or snpEff as written; one that matches no ``ALT`` counts for every carrier;
- a tumour/normal pair (Mutect2, Strelka) is one sample, the tumour: the column named by ``##tumor_sample=``, else
  the one beside ``##normal_sample=``, else a column named TUMOR or TUMOUR beside one named NORMAL. The report says
  which column was taken.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from drugresponse.errors import UserError

from .limits import Limits
from .mutation_words import PROTEIN_ALTERING
from .tables import Table

FIXED = ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]


@dataclass
class Vcf:
    """What a VCF's header says: the sample columns read, and how genes are annotated."""

    samples: list[str]
    columns: list[int]  # positions of ``samples`` in a record
    csq_format: list[str] | None  # VEP's field names, or None for snpEff
    notes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "VCF (" + ("VEP" if self.csq_format else "snpEff") + " annotation)"


def open_vcf(table: Table, limits: Limits, sample_name: str) -> Vcf:
    """Check the column line and annotation; choose the sample columns (a pair's tumour)."""
    header = [c.strip().lstrip("#").upper() for c in table.header]
    if header[:8] != FIXED or (len(header) > 8 and header[8] != "FORMAT"):
        shown = ", ".join(table.header[:9]) + (" …" if len(table.header) > 9 else "")
        raise UserError(f"{table.name}: a VCF's column line needs the 8 fixed columns #CHROM, POS, ID, REF, ALT, QUAL, "
                        f"FILTER, INFO (tab-separated), then FORMAT and one column per sample; this one has "
                        f"{len(table.header)} column(s): {shown}.")
    if not any(line.startswith(("##INFO=<ID=CSQ", "##INFO=<ID=ANN")) for line in table.preamble):
        raise UserError(f"{table.name}: this VCF has no gene annotation (no CSQ or ANN field). Annotate it with VEP or "
                        "snpEff, or upload a table of gene and protein change (gene,protein_change).")
    csq_format = next((line.split("Format:")[1].strip().strip('">').split("|") for line in table.preamble
                       if line.startswith("##INFO=<ID=CSQ") and "Format:" in line), None)
    if len(table.header) <= 9:
        return Vcf([sample_name], [], csq_format)
    samples = table.header[9:]
    limits.check_samples(len(samples))
    for name in samples:
        limits.check_name(name, "the VCF's sample name")
    tumour, how = _tumour(table.preamble, samples)
    if tumour is None:
        return Vcf(samples, [9 + i for i in range(len(samples))], csq_format)
    others = ", ".join(repr(s) for s in samples if s != tumour)
    note = (f"{table.name}: a tumour/normal VCF; the tumour column {tumour!r} was read ({how})"
            + (f", {others} ignored." if others else "."))
    return Vcf([tumour], [9 + samples.index(tumour)], csq_format, [note])


def _tumour(preamble: list[str], samples: list[str]) -> tuple[str | None, str]:
    """The tumour column of a tumour/normal pair, and how it was found; (None, "") when the file is not a pair."""
    meta = {}
    for line in preamble:
        key, _, value = line[2:].partition("=")
        if key.lower() in ("tumor_sample", "normal_sample"):
            meta[key.lower()] = value.strip()
    if meta.get("tumor_sample") in samples:
        return meta["tumor_sample"], "named by ##tumor_sample"
    if len(samples) == 2 and meta.get("normal_sample") in samples:
        return next(s for s in samples if s != meta["normal_sample"]), "the column that is not ##normal_sample"
    upper = [s.strip().upper() for s in samples]
    if "NORMAL" in upper:
        found = [s for s, u in zip(samples, upper) if u in ("TUMOR", "TUMOUR")]
        if len(found) == 1:
            return found[0], "the column named TUMOR beside NORMAL"
    return None, ""


def _info(info: str, key: str) -> str | None:
    for field_ in info.split(";"):
        if field_.startswith(key + "="):
            return field_[len(key) + 1:]
    return None


def _allele_number(allele: str, ref: str, alts: list[str], vep: bool) -> int | None:
    """Which ALT (1-based) an annotation's allele names; None when it names none of them. snpEff writes the ALT as
    given. VEP trims the first base when REF and every ALT share it (``-`` when nothing is left) and then writes only
    the trimmed form, which may equal another ALT as written (REF ``A``, ALT ``AA,AAA``: VEP's ``A`` and ``AA``), so
    for VEP the trimmed forms are matched alone."""
    if vep and ref and all(a[:1] == ref[:1] for a in alts):
        written = [a[1:] or "-" for a in alts]
    else:
        written = alts
    return written.index(allele) + 1 if allele in written else None


@functools.lru_cache(maxsize=8)
def _csq_positions(csq_format: tuple[str, ...]) -> dict[str, int]:
    """Where VEP's CSQ entries hold the fields read, found once per file's format, not once per record."""
    return {k: csq_format.index(k) for k in ("Allele", "Consequence", "SYMBOL", "ALLELE_NUM") if k in csq_format}


def _genes(row: list, csq_format: list[str] | None) -> dict[int | None, set[str]]:
    """Genes whose protein a record's annotation says it changes, by the ALT allele (1-based) that changes them; None
    for an annotation whose allele names no ALT (it counts for any carrier)."""
    info, ref, alts = row[7] or "", row[3] or "", (row[4] or "").split(",")
    genes: dict[int | None, set[str]] = {}

    def add(allele: str, gene: str, vep: bool, number: str = "") -> None:
        key = int(number) if number.isdigit() and 0 < int(number) <= len(alts) else None
        key = key if key is not None else (1 if len(alts) == 1 else _allele_number(allele, ref, alts, vep))
        genes.setdefault(key, set()).add(gene)

    if csq_format:
        at = _csq_positions(tuple(csq_format))
        for entry in (_info(info, "CSQ") or "").split(","):
            parts = entry.split("|")
            field_of = {k: parts[i] for k, i in at.items() if i < len(parts)}  # the four fields read, not all ~80
            terms = set(field_of.get("Consequence", "").split("&"))
            if terms & PROTEIN_ALTERING and field_of.get("SYMBOL"):
                add(field_of.get("Allele", ""), field_of["SYMBOL"], True, field_of.get("ALLELE_NUM", ""))
    for entry in (_info(info, "ANN") or "").split(","):
        parts = entry.split("|")
        if len(parts) > 3 and set(parts[1].split("&")) & PROTEIN_ALTERING and parts[3]:
            add(parts[0], parts[3], False)
    return genes


def _carried(genotype: str) -> set[int]:
    """The ALT alleles (1-based) a genotype holds: ``0/1`` -> {1}, ``1|2`` -> {1, 2}, ``./.`` -> {}."""
    return {int(a) for a in re.split(r"[/|]", genotype) if a.isdigit() and int(a) > 0}


def records(table: Table, vcf: Vcf) -> Iterator[dict[str, set[str]]]:
    """Per record: the genes it alters in each sample that carries it (empty for a record that does not count)."""
    for chunk, first_line in table.chunks(20_000):
        if chunk.width < len(FIXED):  # the column line was checked; a chunk narrower than it is a malformed file
            raise UserError(f"{table.name}: line {first_line}: a VCF record needs at least the 8 fixed columns.")
        for i, row in enumerate(chunk.iter_rows()):
            if row[6] not in ("PASS", "."):
                yield {}
                continue
            by_allele = _genes(row, vcf.csq_format)
            every = set().union(*by_allele.values()) if by_allele else set()
            if not vcf.columns:
                yield dict.fromkeys(vcf.samples, every) if every else {}
                continue
            if len(row) <= max(vcf.columns) or row[vcf.columns[0]] is None:
                raise UserError(f"{table.name}: line {first_line + i}: the record has no genotype for "
                                f"{vcf.samples[0]!r}; every record needs one value per header column.")
            keys = (row[8] or "").split(":") if len(row) > 8 else []
            if "GT" not in keys:  # somatic callers without genotypes (Strelka): a PASS record is the tumour's
                yield dict.fromkeys(vcf.samples, every) if every else {}
                continue
            at = keys.index("GT")
            carriers = {}
            for sample, column in zip(vcf.samples, vcf.columns):
                alleles = _carried(((row[column] or "").split(":") + [""] * at)[at])
                genes = set().union(*(by_allele.get(a, set()) for a in alleles | {None})) if alleles else set()
                if genes:
                    carriers[sample] = genes
            yield carriers

"""Mutation lists as labs write them: words that are not mutations, tumour/normal VCFs, malformed VCFs, plain lists
with unknown genes, and gene-level copy number that sets GDSC's regions (``serve/uploads/mutation_lists.py`` and its
rule). Expression comes from the fixture bundle's real profiles; the alterations written beside it are chosen to
exercise a rule (a lab's ``TP53 not tested``), not to describe the line.
"""

import numpy as np
import polars as pl
import pytest

from drugresponse.errors import UserError
from drugresponse.serve.uploads import parse_profiles

from .lab_samples import ERBB2_REGION, ROW, events_set, with_mutations
from .test_serve_uploads import wide_csv

# 1. text that is not a mutation sets nothing, and is reported

@pytest.mark.parametrize("gene, change, expected, reported", [
    ("KRAS", "unknown", {}, "left_unknown"),
    ("TP53", "not tested", {}, "left_unknown"),
    ("TP53", "VUS", {}, "left_unknown"),
    ("TP53", "variant of unknown significance", {}, "left_unknown"),
    ("TP53", "", {}, "left_unknown"),
    ("TP53", "NA", {}, "left_unknown"),
    ("KRAS", "positive", {}, "not_understood"),
    ("KRAS", "interesting", {}, "not_understood"),
    ("BRAF", "c.1799T>A", {}, "not_understood"),
    ("ERBB2", "positive", {ERBB2_REGION: 1.0}, None),
    ("ERBB2", "overexpression", {ERBB2_REGION: 1.0}, None),
    ("ERBB2", "CN=12", {ERBB2_REGION: 1.0}, None),
    ("ERBB2", "negative", {ERBB2_REGION: 0.0}, None),
    ("ERBB2", "CN=6", {}, "left_unknown"),  # a gain only in a near-diploid genome: the ploidy is not given
    ("BRAF", "p.Val600Glu", {"BRAF_mut": 1.0}, None),
    ("EGFR", "E746_A750del", {"EGFR_mut": 1.0}, None),
    ("EGFR", "ex19del", {"EGFR_mut": 1.0}, None),  # the clinic's notation
    ("EGFR", "del19", {"EGFR_mut": 1.0}, None),
    ("PTEN", "R130fs*4", {"PTEN_mut": 1.0}, None),
    ("NRAS", "Q61K", {"NRAS_mut": 1.0}, None),
    ("TP53", "R273H", {"TP53_mut": 1.0}, None),
    ("TP53", "frameshift", {"TP53_mut": 1.0}, None),
    ("TP53", "WT", {"TP53_mut": 0.0}, None),
    ("BRAF", "V600V", {}, None),  # synonymous: sets nothing
    ("BCR-ABL1", "positive", {"BCR-ABL_mut": 1.0}, None),
])
def test_only_changes_that_look_like_mutations_set_an_event(expression, schema, sample, gene, change, expected,
                                                            reported):
    data = pl.DataFrame({"sample": [sample], "gene": [gene], "protein_change": [change]}).write_csv().encode()
    report = with_mutations(expression, schema, data)
    assert events_set(report, schema) == expected
    mutations = report.details["mutations"]
    if reported:
        assert any(k.startswith(f"{gene} {change}".strip()) for k in mutations[reported]), mutations
        assert any("unknown" in n or "not understood" in n for n in report.notes)


def test_status_columns_read_one_and_yes_as_mutated(expression, schema, sample):
    status = with_mutations(expression, schema, f"sample,gene,status\n{sample},BRAF,1\n{sample},TP53,no\n".encode())
    assert events_set(status, schema) == {"BRAF_mut": 1.0, "TP53_mut": 0.0}
    change = with_mutations(expression, schema, f"sample,gene,protein_change\n{sample},BRAF,1\n".encode())
    assert events_set(change, schema) == {}  # a 1 where a protein change belongs is not guessed
    assert "BRAF 1" in change.details["mutations"]["not_understood"]
    # a column named for the mutation holds yes/no calls as often as changes: 1 and 0 both count there, alike
    called = with_mutations(expression, schema, f"sample,gene,mutation\n{sample},BRAF,1\n{sample},TP53,0\n"
                                                f"{sample},KRAS,G12D\n".encode())
    assert events_set(called, schema) == {"BRAF_mut": 1.0, "TP53_mut": 0.0, "KRAS_mut": 1.0}
    bare = with_mutations(expression, schema, f"sample,gene,protein_change\n{sample},TP53,0\n".encode())
    assert events_set(bare, schema) == {} and "TP53 0" in bare.details["mutations"]["not_understood"]


# 2-3. VCFs: tumour/normal pairs, and files that only look like VCFs

def _vcf(columns: list[str], genotypes: list[str], meta: list[str] = (), keys: str = "GT") -> bytes:
    lines = ["##fileformat=VCFv4.2", *meta,
             '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: '
             'Allele|Consequence|IMPACT|SYMBOL|Gene">',
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *columns]),
             "\t".join(["chr7", "140753336", ".", "A", "T", "50", "PASS", "CSQ=T|missense_variant|MODERATE|BRAF|ENSG0",
                        keys, *genotypes])]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("columns, meta, tumour", [
    (["NORMAL_1", "TUMOUR_1"], ["##normal_sample=NORMAL_1", "##tumor_sample=TUMOUR_1"], "TUMOUR_1"),  # Mutect2
    (["N1", "T1"], ["##normal_sample=N1"], "T1"),
    (["NORMAL", "TUMOR"], [], "TUMOR"),  # Strelka
])
def test_a_tumour_normal_vcf_reads_the_tumour_column(expression, schema, columns, meta, tumour):
    genotypes = ["0/1" if c == tumour else "0/0" for c in columns]
    report = with_mutations(expression, schema, _vcf(columns, genotypes, meta), "somatic.vcf")
    assert events_set(report, schema) == {"BRAF_mut": 1.0}
    assert any(f"tumour column {tumour!r} was read" in n for n in report.notes)
    assert report.details["mutations"]["paired_by"] == "being the only sample of each file"


def test_a_somatic_vcf_without_genotypes_is_the_tumours(expression, schema):
    """Strelka writes no GT (its FORMAT starts DP:FDP:...): a depth is not a genotype, and a PASS somatic record is the
    tumour's; with GT elsewhere than first, the GT field is the one read."""
    strelka = _vcf(["NORMAL", "TUMOR"], ["30:0:0", "41:0:0"], keys="DP:FDP:SDP")
    assert events_set(with_mutations(expression, schema, strelka, "strelka.vcf"), schema) == {"BRAF_mut": 1.0}
    normal_only = _vcf(["NORMAL", "TUMOR"], ["35:0/1", "40:0/0"], keys="DP:GT")  # the alt allele in the normal only
    assert events_set(with_mutations(expression, schema, normal_only, "odd.vcf"), schema) == {}


def test_a_vcf_whose_column_line_is_short_is_refused_with_what_it_needs(expression, schema):
    short = (b"##fileformat=VCFv4.2\n##INFO=<ID=ANN,Number=.,Type=String,Description=\"snpEff\">\n#CHROM\tPOS\n"
             b"chr1\t100\n")
    with pytest.raises(UserError, match="8 fixed columns #CHROM, POS, ID, REF, ALT, QUAL, FILTER, INFO.*has 2 column"):
        with_mutations(expression, schema, short, "short.vcf")


def test_a_vcf_record_shorter_than_its_column_line_is_refused_with_its_line(expression, schema):
    data = _vcf(["S1"], ["0/1"]) + b"chr1\t5\t.\tA\tT\t50\tPASS\n"
    with pytest.raises(UserError, match=r"line 5: expected 10 fields, found 7; every row needs one value per header"):
        with_mutations(expression, schema, data, "cut.vcf")


# 4. plain lists

@pytest.mark.parametrize("text, expected", [
    ("NOTAGENE1 X1Y, BRAF V600E", {"BRAF_mut": 1.0}),
    ("BRAF:V600E;TP53:R273H", {"BRAF_mut": 1.0, "TP53_mut": 1.0}),
    ("BRAF: p.V600E\nTP53 WT\nKRAS:G12D", {"BRAF_mut": 1.0, "TP53_mut": 0.0, "KRAS_mut": 1.0}),
    ("BCR::ABL1; TP53:not tested", {"BCR-ABL_mut": 1.0}),
    ("BRAF_mut, erbb2_amp, MSI, TP53_mut WT", {"BRAF_mut": 1.0, ERBB2_REGION: 1.0, "MSI_FACTOR": 1.0, "TP53_mut": 0.0}),
])
def test_plain_lists_in_either_spelling_with_unknown_genes_ignored(expression, schema, text, expected):
    report = with_mutations(expression, schema, text.encode(), "alterations.txt")
    assert report.details["mutations"]["kind"] == "plain list of alterations"
    assert events_set(report, schema) == expected
    if "NOTAGENE1" in text:
        assert report.details["mutations"]["unknown_genes"] == {"NOTAGENE1": 1}
        assert any("NOTAGENE1" in n and "ignored" in n for n in report.notes)


def test_a_list_of_unknown_genes_says_what_format_is_expected(expression, schema):
    with pytest.raises(UserError, match="do not start with a gene the model knows.*Expected items GENE CHANGE or "
                                        "GENE:CHANGE.*BRAF V600E"):
        with_mutations(expression, schema, b"NOTAGENE1 V600E, NOTAGENE2 R273H", "alterations.txt")


# 7. gene-level copy number sets the regions that list the gene

def test_gene_level_copy_number_points_to_the_regions_and_sets_none(bundle, schema):
    """GDSC's regions are called amplifications and deletions; a gene-level -1 (any loss) does not set one, and the
    report names the region to give instead."""
    region = "loss_cnaPANCAN307_(CHD3,GPS2,TP53)"
    assert region in schema.features_read["drivers"]
    table = pl.read_csv(wide_csv(bundle, [ROW], modalities=("expression",)))
    j = schema.features["drivers"].index(region)
    lost = parse_profiles(table.with_columns(pl.lit(-1).alias("copy_number:TP53")).write_csv().encode(), schema)
    assert np.isnan(lost.profiles["drivers"][0, j])
    assert any(f"copy_number:TP53 = -1 → driver:{region}" in n for n in lost.notes)
    given = table.with_columns(pl.lit(-1).alias("copy_number:TP53"), pl.lit(1).alias(f"driver:{region}"))
    assert parse_profiles(given.write_csv().encode(), schema).profiles["drivers"][0, j] == 1.0  # the file's own kept


def test_a_gain_or_a_loss_in_a_list_is_not_an_amplification_or_a_deletion(expression, schema):
    report = with_mutations(expression, schema, b"ERBB2 gain, TP53 loss")
    assert events_set(report, schema) == {}
    left = " ".join(report.details["mutations"]["left_unknown"])
    assert "ERBB2 gain" in left and "TP53 loss" in left and "amplifications and deletions" in left


def test_an_amplified_gene_in_a_list_sets_every_region_that_lists_it(expression, schema):
    report = with_mutations(expression, schema, b"ERBB2 amplification")
    assert events_set(report, schema) == {ERBB2_REGION: 1.0}
    regions = schema.events.regions("ERBB2", "gain")
    assert [schema.features["drivers"][j] for j in regions] == [ERBB2_REGION]


# 8. a per-gene mutation the model reads as an event is pointed to it, not also called unknown

def test_a_mutation_column_outside_the_panel_points_to_its_event_and_is_not_called_unknown(bundle, schema):
    """``mutation:BRAF`` = 1: BRAF is not in the gene panel, and its event BRAF_mut is read. The report said both that
    BRAF was unknown and ignored, and that driver:BRAF_mut counts; only the second is true."""
    assert "BRAF" not in schema.features["mutation"] and "BRAF_mut" in schema.features_read["drivers"]
    table = pl.read_csv(wide_csv(bundle, [ROW], modalities=("expression",)))
    data = table.with_columns(pl.lit(1).alias("mutation:BRAF"), pl.lit(1).alias("mutation:NOTAGENE1"))
    report = parse_profiles(data.write_csv().encode(), schema)
    assert any("mutation:BRAF → driver:BRAF_mut" in n for n in report.notes), report.notes
    assert [n for n in report.notes if "does not know" in n] == [
        "mutation: 1 name(s) the model does not know were ignored (e.g. NOTAGENE1)."]
    assert report.unknown_features["mutation"] == 1 and "- mutation: 1 unknown name(s) ignored" in report.summary()
    assert report.details["identifiers"]["mutation"]["unknown"] == 1


# 9. the unknown events the report lists, and the drugs each would move

def test_an_unknown_event_lists_only_the_drugs_it_moves(bundle, schema, runtime):
    """An event moves the few drugs whose driver head reads it; the other drugs of its top five used to be listed
    with a shift of 0.0, which reads as a measured null effect."""
    from drugresponse.serve.sample_context import unknown_event_effects
    from drugresponse.serve.views import unknown_events_text

    profiles = {m: bundle.profiles[m][ROW:ROW + 1].astype(np.float32) for m in ("expression", "mutation",
                                                                               "copy_number", "drivers")}
    profiles["drivers"][:] = np.nan  # a sample with expression only: every event unknown
    effects = unknown_event_effects(runtime, profiles, 0, schema.read_columns["drivers"], runtime.drugs)
    assert effects and all(effect["drugs"] for effect in effects)
    assert all(shift != 0 for effect in effects for shift in effect["drugs"].values()), effects
    assert any(len(effect["drugs"]) < 5 for effect in effects)  # the fixture's events each move a few of its 12 drugs
    for effect in effects:
        assert next(iter(effect["drugs"].values())) == effect["largest_shift"]
    text = unknown_events_text({"unknown_events": effects})
    assert "+0.00" not in text and "-0.00" not in text


def test_a_multi_allelic_site_gives_each_sample_its_own_alleles_consequence(expression, schema, sample):
    """ALT ``T,G`` where T is synonymous and G missense: ``0/1`` carries T, which alters no protein, and sets nothing;
    ``0/2`` carries the missense change. VEP's trimmed indel allele (``-``) names its ALT too."""
    header = ["##fileformat=VCFv4.2",
              '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: '
              'Allele|Consequence|IMPACT|SYMBOL|Gene">',
              "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample])]

    def vcf(ref: str, alt: str, csq: str, genotype: str) -> bytes:
        record = "\t".join(["chr17", "7673802", ".", ref, alt, "50", "PASS", f"CSQ={csq}", "GT", genotype])
        return ("\n".join([*header, record]) + "\n").encode()

    csq = "T|synonymous_variant|LOW|TP53|ENSG1,G|missense_variant|MODERATE|TP53|ENSG1"
    assert events_set(with_mutations(expression, schema, vcf("C", "T,G", csq, "0/1"), "s.vcf"), schema) == {}
    assert events_set(with_mutations(expression, schema, vcf("C", "T,G", csq, "0/2"), "s.vcf"), schema) == \
        {"TP53_mut": 1.0}
    assert events_set(with_mutations(expression, schema, vcf("C", "T,G", csq, "1|2"), "s.vcf"), schema) == \
        {"TP53_mut": 1.0}
    indel = "-|frameshift_variant|HIGH|TP53|ENSG1,TA|synonymous_variant|LOW|TP53|ENSG1"  # C, CTA trimmed: -, TA
    assert events_set(with_mutations(expression, schema, vcf("CT", "C,CTA", indel, "0/2"), "s.vcf"), schema) == {}
    assert events_set(with_mutations(expression, schema, vcf("CT", "C,CTA", indel, "0/1"), "s.vcf"), schema) == \
        {"TP53_mut": 1.0}


def test_a_copy_number_column_reads_bare_numbers_as_copies(expression, schema, sample):
    report = with_mutations(expression, schema, f"sample,gene,copy_number\n{sample},ERBB2,14\n{sample},EGFR,3\n"
                            .encode())
    assert events_set(report, schema) == {ERBB2_REGION: 1.0}
    assert any(k.startswith("EGFR CN=3") for k in report.details["mutations"]["left_unknown"])


def test_a_gistic_gene_table_given_as_mutations_says_how_to_write_its_calls(expression, schema, sample):
    data = f"Gene Symbol\tLocus ID\tCytoband\t{sample}\nERBB2\t2064\t17q12\t2\n".encode()
    with pytest.raises(UserError, match="GISTIC gene-by-sample table.*sample, gene, status: amp where GISTIC says 2"):
        with_mutations(expression, schema, data, "all_thresholded.by_genes.txt")


def test_vep_trimmed_alleles_are_not_mistaken_for_another_alt_as_written(expression, schema, sample):
    """REF A, ALT AA,AAA (an insertion in a poly-A run): VEP writes the trimmed alleles A and AA, and AA is also the
    first ALT as written. The second allele's consequence must go to a 0/2 sample, not to a 0/1 one."""
    header = ["##fileformat=VCFv4.2",
              '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. Format: '
              'Allele|Consequence|IMPACT|SYMBOL|Gene">',
              "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample])]
    csq = "A|synonymous_variant|LOW|TP53|ENSG1,AA|frameshift_variant|HIGH|TP53|ENSG1"

    def carrying(genotype):
        record = "\t".join(["chr17", "7673802", ".", "A", "AA,AAA", "50", "PASS", f"CSQ={csq}", "GT", genotype])
        return with_mutations(expression, schema, ("\n".join([*header, record]) + "\n").encode(), "s.vcf")
    assert events_set(carrying("0/1"), schema) == {}
    assert events_set(carrying("0/2"), schema) == {"TP53_mut": 1.0}


def test_a_bare_zero_to_two_in_a_copy_number_column_is_not_read_as_copies(expression, schema, sample):
    """0, 1, 2 and negative numbers are as often GISTIC's calls or log ratios; a 0 read as copies would be a
    homozygous deletion. They are reported as not understood; write CN=0 or del."""
    report = with_mutations(expression, schema, f"sample,gene,copy_number\n{sample},CDKN2A,0\n{sample},PTEN,-2\n"
                            .encode())
    assert events_set(report, schema) == {}
    assert any(k.startswith("CDKN2A 0") for k in report.details["mutations"]["not_understood"])

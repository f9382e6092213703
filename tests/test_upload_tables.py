"""Opening text tables: the ``#`` lines tools write before the header are kept as the preamble, never read as it."""

from drugresponse.serve.uploads import APP, parse_profiles
from drugresponse.serve.uploads.tables import open_table

from .test_serve_uploads import wide_csv

FEATURE_COUNTS = ('# Program:featureCounts v2.0.1; Command:"featureCounts" "-T" "4" "-a" "genes.gtf" "-o" '
                  '"counts.txt" "S1.bam" "S2.bam"\nGeneid\tChr\tStart\tEnd\tStrand\tLength\tS1.bam\tS2.bam\n'
                  "ENSG00000141510\tchr17\t7661779\t7687538\t-\t2579\t812\t640\n")


def test_comment_lines_before_the_header_are_the_preamble():
    table = open_table(FEATURE_COUNTS.encode(), APP, "counts.txt")
    assert table.header == ["Geneid", "Chr", "Start", "End", "Strand", "Length", "S1.bam", "S2.bam"]
    assert table.preamble == [FEATURE_COUNTS.splitlines()[0]] and table.rows == 1
    maf = open_table(b"#version 2.4\n#filedate 20240101\nHugo_Symbol\tVariant_Classification\n"
                     b"BRAF\tMissense_Mutation\n", APP, "calls.maf")
    assert maf.header == ["Hugo_Symbol", "Variant_Classification"]
    assert maf.preamble == ["#version 2.4", "#filedate 20240101"]


def test_header_lines_that_start_with_a_hash_stay_the_header():
    vcf = open_table(b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                     b"7\t1\t.\tA\tT\t.\tPASS\t.\n", APP, "x.vcf")
    assert vcf.header[:2] == ["CHROM", "POS"] and vcf.preamble == ["##fileformat=VCFv4.2"]
    gct = open_table(b"#1.2\n1\t1\nName\tDescription\tS1\nTP53\tx\t1.0\n", APP, "x.gct")
    assert gct.header == ["Name", "Description", "S1"] and gct.preamble == ["#1.2", "1\t1"]
    hashed = open_table(b"#gene\tS1\tS2\nTP53\t1\t2\n", APP, "x.tsv")
    assert hashed.header == ["#gene", "S1", "S2"] and not hashed.preamble


def test_a_maf_with_its_version_line_is_read_as_mutations(schema, bundle):
    sample = bundle.cell_lines["cell_line"][0]
    maf = (f"#version 2.4\n#annotation.spec gdc-1.0.1-public\nHugo_Symbol\tEntrez_Gene_Id\tVariant_Classification\t"
           f"Tumor_Sample_Barcode\tHGVSp_Short\nBRAF\t673\tMissense_Mutation\t{sample}\tp.V600E\n").encode()
    report = parse_profiles(wide_csv(bundle, [0], modalities=("expression",)), schema, mutations=maf,
                            mutations_name="calls.maf")
    assert report.samples == [sample] and any("MAF" in note for note in report.notes)
    assert report.profiles["drivers"][0, schema.features["drivers"].index("BRAF_mut")] == 1.0

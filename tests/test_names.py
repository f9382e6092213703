from drugresponse.train.data.cell_line_names import align_nci_h_keys, key_index, normalise


def test_normalise_matches_spelling_variants():
    assert normalise("PFSK-1") == normalise("PFSK1") == "PFSK1"
    assert normalise("NCI-H460") == "NCIH460"
    assert normalise("Hs 633.T") == "HS633T"


def test_key_index_reports_collisions_instead_of_merging():
    unique, collisions = key_index(["KM-H2", "KMH-2", "TT", "T-T", "PFSK-1", "PFSK-1"])
    assert collisions == {"KMH2": ["KM-H2", "KMH-2"], "TT": ["T-T", "TT"]}
    assert unique == {"PFSK1": "PFSK-1"}  # a repeated identical name is not a collision


def test_nci_h_expression_keys_are_aligned_only_when_unambiguous():
    mapping = align_nci_h_keys(["H460", "H4", "A549", "H1"], ["NCIH460", "A549", "H4", "NCIH4", "NCIH1"])
    assert mapping["H460"] == "NCIH460"
    assert mapping["H4"] == "H4"  # H4 exists as its own line elsewhere: never renamed
    assert mapping["A549"] == "A549"
    assert mapping["H1"] == "NCIH1"


def test_nci_h_key_not_renamed_onto_an_existing_expression_key():
    assert align_nci_h_keys(["H2", "NCIH2"], ["NCIH2"])["H2"] == "H2"

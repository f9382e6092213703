"""New compounds: predicting a drug GDSC never screened from its structure, and measuring it leave-drug-out.

Owns the structure model (``two_tower``: a line tower read from a line's responses to the screened drugs, a drug
tower from the compound's Morgan bits), its naive and nearest-neighbour baselines (``baselines``), folds by drug
and the leave-drug-out evaluation with its double cold start (``leave_drug_out``), and the product fit
(``product``). Imports ``data`` and ``evaluation.metrics``; never ``model`` (no torch: the fit is closed-form).
"""

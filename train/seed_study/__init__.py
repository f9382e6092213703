"""The seed study's pipeline rebuilt from the pinned GDSC files, rung by rung, to show where R² = 0.9999 came from.

``study_table`` builds (or reads) the study's input table; ``ladder`` trains the study's network on each rung and
writes the table and plots. Imports ``train.data``, ``train.model`` (its loss-curve
plot) and ``train.evaluation`` (metrics, plots, saved folds).
"""

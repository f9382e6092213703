"""GDSC data: what every later stage reads, never the raw source files.

Owns the pinned source files and their verified download (``sources``), reading their members
(``source_archives``, ``safe_pickle``), cell-line name matching (``cell_line_names``), the tidy bundle
(``bundle_build`` writes it, ``bundle`` reads it), one screen as arrays (``response_matrix``) and the ways
pairs are held out (``splits``). Imports only ``drugresponse``'s core (errors, atomic files); torch only to
read the source pickles.
"""

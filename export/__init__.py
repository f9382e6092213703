"""Export stage: a trained checkpoint -> ONE self-contained ONNX file plus the assets the app reads.

Imports ``train.data`` and ``train.model`` (the checkpoint and the bundle), and from ``serve/`` only the two contracts
the assets must satisfy: ``serve.conformal`` (the intervals the app draws) and ``serve.uploads.schema`` (the names
users' files are read into). Never imported by ``serve/``.
"""

"""The model's settings: architecture, optimisation and the driver head's, as one frozen dataclass.

Named settings (``full``, ``quick``) and the candidates compared inside each fold are in ``presets.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .driver_head import HeadConfig


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and optimisation settings. Named presets live in ``presets.PRESETS``."""

    n_expression_genes: int = 2000
    n_copy_number_genes: int = 500
    min_mutated: int = 5  # keep a mutation feature if at least this many training cell lines carry it
    hidden: tuple[int, ...] = (1024, 256)
    dropout: float = 0.3
    input_dropout: float = 0.2
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 32
    max_epochs: int = 120
    patience: int = 12
    ensemble: int = 5  # members, each early-stopped on its own inner split of the training cell lines
    blend_ridge: bool = True  # learn a blend weight with a ridge layer on the inner validation cell lines
    # extra loss weight on training pairs whose drug-standardised ln IC50 is below ``extreme_z`` (each drug's most
    # sensitive): an experiment on recalling exceptional responders (docs/EVALUATION.md); 0 in every shipped preset
    extreme_weight: float = 0.0
    extreme_z: float = -1.0
    drivers: HeadConfig | None = HeadConfig()  # the driver-event head; None: expression model only

    def replace(self, **changes) -> "ModelConfig":
        return ModelConfig(**{**self.__dict__, **changes})

    def to_dict(self) -> dict:
        """JSON-ready: tuples as lists, the head's settings as a dict (or None)."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}
        out["drivers"] = None if self.drivers is None else dict(self.drivers.__dict__)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        values["drivers"] = None if values.get("drivers") is None else HeadConfig(**values["drivers"])
        return cls(**values)

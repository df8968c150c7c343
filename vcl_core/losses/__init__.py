"""Contrastive and auxiliary losses: pure functions and small modules, torch only."""
from .infonce import info_nce, nt_xent

__all__ = ["info_nce", "nt_xent"]

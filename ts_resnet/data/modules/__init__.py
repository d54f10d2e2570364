"""Lightning data modules, one per dataset family; all share :class:`SignalDataModule`'s machinery."""

from .base import DatasetInfo, FileDataModule, SignalDataModule, Split
from .cinc import CinCDataModule
from .folder import FolderDataModule
from .ptbxl import PTBXLDataModule
from .series import ArrayDataModule, SeriesDataModule, recipe_normalize, wants_level_channels, znormalised
from .synthetic import SyntheticECGDataModule
from .ucr import UCRDataModule

__all__ = [
    "ArrayDataModule",
    "SeriesDataModule",
    "CinCDataModule",
    "DatasetInfo",
    "FileDataModule",
    "FolderDataModule",
    "PTBXLDataModule",
    "SignalDataModule",
    "Split",
    "SyntheticECGDataModule",
    "UCRDataModule",
    "recipe_normalize",
    "wants_level_channels",
    "znormalised",
]

"""Signal data: readers (one per format), the preprocessing pipeline, datasets and data modules."""

from .archives import read_ucr_tsv, read_uea_ts
from .readers import find_records, read_csv, read_edf, read_numpy, read_record, read_wfdb
from .records import Record, SignalReadError
from .transforms import Augment, PreprocessConfig, Preprocessor

__all__ = [
    "Augment",
    "PreprocessConfig",
    "Preprocessor",
    "Record",
    "SignalReadError",
    "find_records",
    "read_csv",
    "read_edf",
    "read_numpy",
    "read_record",
    "read_ucr_tsv",
    "read_uea_ts",
    "read_wfdb",
]

"""The training bundle: a folder with model.py, weights, the design, train.py and a README."""

from designer.core.bundle.writer import (
    BundleCancelled,
    BundleError,
    check_out_dir,
    write_bundle,
)

__all__ = ["BundleCancelled", "BundleError", "check_out_dir", "write_bundle"]

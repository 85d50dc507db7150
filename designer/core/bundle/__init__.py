"""The training bundle's texts: ``train.py`` and the bundle's README (pure text, no torch).

The writer that puts them in a folder with model.py and weights is
:mod:`designer.core.torch.bundle_writer`.
"""

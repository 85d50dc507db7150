"""Everything that imports torch: building, verifying, exporting and transferring weights.

The rest of the core is pure Python (an import-linter contract keeps it so): the app
imports this package only in its helper process or in export workers.
"""

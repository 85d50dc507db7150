"""The Qt layer: views and editors over the pure core (the only place PySide6 is imported)."""

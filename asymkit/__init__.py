"""asymkit: the library behind the asymmetric dense retrieval course.

One module per idea; lessons import what they need, e.g.
``from asymkit import data, encoders, metrics, search``.
"""
__version__ = "0.1.0"

"""glassflow: high-throughput MD campaigns on glassy sulfide electrolytes."""

__version__ = "0.1.0"

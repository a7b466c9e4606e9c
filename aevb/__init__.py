"""aevb: Auto-Encoding Variational Bayes (Kingma & Welling, arXiv 1312.6114) in NumPy."""
__version__ = "0.1.0"

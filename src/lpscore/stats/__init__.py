"""Decayed, mergeable statistics: quantile sketches and shrinkage."""

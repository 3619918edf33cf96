"""Text normalisation now lives in smartlib_core; this name stays for existing imports."""
from smartlib_core.text import bare_title, dedupe_key, derived_id, fold, goodreads_id, split_series

__all__ = ["bare_title", "dedupe_key", "derived_id", "fold", "goodreads_id", "split_series"]

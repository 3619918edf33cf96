"""The domain types now live in smartlib_core; this name stays for existing imports."""
from smartlib_core.domain import Approach, Book, BookFilter, Recommendation, RecommendResult

__all__ = ["Approach", "Book", "BookFilter", "Recommendation", "RecommendResult"]

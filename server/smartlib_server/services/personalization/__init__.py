"""Personalisation: interactions, per-user recommendations (content + CF + popularity) and A/B experiments."""

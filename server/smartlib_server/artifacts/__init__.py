"""Versioned artifacts: knowledge-base snapshots, catalog exports and the artifact registry."""

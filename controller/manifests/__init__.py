"""Desired state: manifest models, loading, validation, diagnostics, migrations, expressions."""

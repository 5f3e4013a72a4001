"""alertbus services."""

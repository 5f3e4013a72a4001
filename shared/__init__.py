"""alertbus common library: settings, schemas, rules, store, broker."""

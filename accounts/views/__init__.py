"""Portal views: thin functions over accounts.services (writes) and accounts.selectors (reads)."""

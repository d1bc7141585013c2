"""Reports built from finished runs: paired comparisons (``compare``), tables and pages."""

"""Where datasets come from: readers for the distribution formats, bundled demo data."""

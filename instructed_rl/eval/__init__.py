"""Zero-shot evaluation: one cell (game x split x corpus), suites of cells, reports."""

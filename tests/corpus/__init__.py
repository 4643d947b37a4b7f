"""Message corpora for tests and benchmarks (hostile edge cases, CPython's email test data)."""

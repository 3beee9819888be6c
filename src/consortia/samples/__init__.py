"""Sample contracts used by the demo, the benchmark and the tests."""

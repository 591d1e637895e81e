"""Benchmarks: `make bench` seeds a scaled database and times pages next to a bare-Flask yardstick."""

"""The fault suite (issue 8): kill an operation at a random point, run it again, check nothing was lost or doubled.

`python -m tests.faults.run --trials N` (`make faults` runs 50 trials per case, CI 5).
"""

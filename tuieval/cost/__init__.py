"""What a run costs: the price table (`prices`), the spending limit a run stops at (`budget`) and
the estimate `run --dry-run` prints before a single request (`estimate`)."""

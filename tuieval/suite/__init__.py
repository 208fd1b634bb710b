"""Suites: the YAML format, JSONL/CSV datasets, templates and validation."""

from tuieval.suite.errors import Problem, SuiteError
from tuieval.suite.loader import load_suite, validate
from tuieval.suite.model import Case, Gate, Sampling, Suite, Template

__all__ = ["Case", "Gate", "Problem", "Sampling", "Suite", "SuiteError", "Template", "load_suite", "validate"]

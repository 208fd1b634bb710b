"""One report pipeline: what a run's report is, built the same way for the CLI and the app.

- `build` / `build_report` (tuieval.report.build): lean rows from the store, the clustering
  (`method.effective_method`, `clustering`), the pure analysis, gates, the report cache.
- `endpoints`: the embeddings / judge models a clustering calls, and `ClusteringBackendError`.
- `export`: `tuieval export` rows.
- `formats`: json, md, csv, junit and the comparison's Markdown — formatting only.
"""

from tuieval.report.build import BuiltReport, build, build_comparison, build_report, load_rows
from tuieval.report.endpoints import ClusteringBackendError
from tuieval.report.export import export_rows
from tuieval.report.method import REMOTE_METHODS, effective_method

__all__ = ["REMOTE_METHODS", "BuiltReport", "ClusteringBackendError", "build", "build_comparison", "build_report",
           "effective_method", "export_rows", "load_rows"]

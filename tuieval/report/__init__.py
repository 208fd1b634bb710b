"""One report pipeline: what a run's report is, built the same way for the CLI and the app.

- `build` / `build_report` (tuieval.report.build): lean rows from the store, the clustering
  (`VarianceConfig.effective_method`, `clustering`), the pure analysis, gates, the report cache.
- `endpoints`: the embeddings / judge models a clustering calls, and `ClusteringBackendError`.
- `export`: `tuieval export` rows.
- `formats`: json, md, csv, junit and the comparison's Markdown — formatting only.
"""

from tuieval.report.build import BuiltReport, build, build_comparison, build_report, load_rows
from tuieval.report.endpoints import ClusteringBackendError
from tuieval.report.export import export_rows

__all__ = ["BuiltReport", "ClusteringBackendError", "build", "build_comparison", "build_report", "export_rows",
           "load_rows"]

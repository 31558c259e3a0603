"""The evaluation report of a finished run directory: metrics, figures, report.md and report.html."""

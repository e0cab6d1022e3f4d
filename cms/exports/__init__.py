"""Comment exports for legal and editorial teams, of any size: `rows` reads the selection, `writers` writes
xlsx and csv, `jobs` runs large exports in the background."""

from cms.exports.jobs import (
    download_path,
    exports_dir,
    job_path,
    purge_expired,
    run_export_job,
    start_export,
)
from cms.exports.rows import COLUMNS, export_in_memory, export_rows, header, neutralise
from cms.exports.writers import FORMATS, WRITERS, ExportError, export_to_file, write_csv, write_xlsx

__all__ = [
    "COLUMNS",
    "FORMATS",
    "WRITERS",
    "ExportError",
    "download_path",
    "export_in_memory",
    "export_rows",
    "export_to_file",
    "exports_dir",
    "header",
    "job_path",
    "neutralise",
    "purge_expired",
    "run_export_job",
    "start_export",
    "write_csv",
    "write_xlsx",
]

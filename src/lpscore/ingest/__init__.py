"""Files, tails and buses -> ordered, de-duplicated canonical events + quarantine."""

from lpscore.ingest.pipeline import FileReport, IngestResult, ingest_logs

__all__ = ["FileReport", "IngestResult", "ingest_logs"]

"""The bounds on every attachment Clerk reads (the ``documents:`` settings), in a module of their own.

Settings import these without loading any parser: ``connectors.documents.guard`` enforces them and
re-exports :class:`DocumentLimits`, so ``from connectors.documents.guard import DocumentLimits`` still works.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MB = 1024 * 1024


class DocumentLimits(BaseModel):
    """Every bound the guard and the parser processes enforce (Clerk's ``documents:`` settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attachment_bytes: int = Field(10 * MB, gt=0, description="Largest attachment Clerk reads, in bytes.")
    max_email_bytes: int = Field(25 * MB, gt=0, description="Largest email (all attachments together), in bytes.")
    max_pages: int = Field(
        50, gt=0, description="Most pages a PDF may have; a form definition may ask for a lower number."
    )
    zip_max_entries: int = Field(1000, gt=0, description="Most files a Word document's zip package may hold.")
    zip_max_uncompressed_bytes: int = Field(
        100 * MB, gt=0, description="Most bytes a Word document may declare once decompressed (each part and all)."
    )
    zip_max_ratio: float = Field(
        100.0,
        gt=1,
        description="Highest compression ratio allowed for the package and for any part of 1 MB or more "
        "(Word writes 2-20; a zip bomb reaches 1000).",
    )
    xlsx_max_entries: int = Field(
        500, gt=0, description="Most files an Excel workbook's zip package may hold (a form has about 10-30)."
    )
    xlsx_max_uncompressed_bytes: int = Field(
        50 * MB, gt=0, description="Most bytes an Excel workbook may declare once decompressed (each part and all)."
    )
    xlsx_max_ratio: float = Field(
        200.0,
        gt=1,
        description="Highest compression ratio allowed for an Excel workbook and any part of 1 MB or more (a "
        "sheet's XML repeats itself and compresses better than Word's: Excel writes 5-50; a zip bomb reaches 1000).",
    )
    parser_memory_mb: int = Field(
        512, ge=256, description="Address-space cap of each parser process, in MB (a fresh one uses about 100)."
    )
    parser_time_s: float = Field(
        10.0, gt=0, description="Processor (CPU) seconds one attachment's parse may use, OCR included; a file "
        "that needs more is refused (ATTACHMENT_TIMEOUT). A form needs a fraction of a second, at any load."
    )
    parser_wall_s: float = Field(
        60.0, gt=0, description="Seconds by the clock a parse may take once its worker has begun it (a worker "
        "starting or a queue does not count); longer means the reader is stuck or the machine overloaded: "
        "PARSER_UNAVAILABLE, retried, never the sender's fault. More than parser_time_s."
    )
    parser_workers: int = Field(2, gt=0, description="Parser processes kept warm.")
    parser_max_tasks: int = Field(250, gt=0, description="Attachments a parser process reads before it is replaced.")

    @model_validator(mode="after")
    def _wall_above_cpu(self) -> DocumentLimits:
        if self.parser_wall_s <= self.parser_time_s:
            raise ValueError("parser_wall_s: must be more than parser_time_s (a parse cannot use more processor "
                             "time than it has clock time)")
        return self

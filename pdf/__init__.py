"""Version PDFs: `render_version` draws one order version, `read_stamp` reads back which one a PDF is."""

from pdf.render import render_version
from pdf.stamp import Stamp, read_stamp

__all__ = ["Stamp", "read_stamp", "render_version"]

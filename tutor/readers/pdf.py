"""PDF pages: their text layer, through pypdf. Scans without text and encrypted files are refused."""

from __future__ import annotations

import io

from tutor.errors import PageSkipped


def pdf_text(data: bytes) -> str:
    """The text of every page, pages separated by blank lines.

    Raises:
        PageSkipped: the file is not a readable PDF, is encrypted, or has no text layer.
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise PageSkipped("is an encrypted PDF; save an unencrypted copy to add it")
        text = "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except PageSkipped:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise PageSkipped(f"is not a readable PDF ({exc})") from exc
    except Exception as exc:  # pypdf raises bare dependency errors for some encryptions
        raise PageSkipped(f"could not be read as a PDF ({type(exc).__name__}: {exc})") from exc
    if not text.strip():
        raise PageSkipped("is a PDF with no text layer (a scan?); run OCR on it first")
    return text

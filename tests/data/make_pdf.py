"""Write tests/data/notes/einsum.pdf: a one-page PDF whose text layer holds two questions and answers.

A minimal PDF written by hand (Helvetica, one content stream), so the fixture needs no PDF library.
Run from the repository root: python tests/data/make_pdf.py
"""

from pathlib import Path

LINES = [
    "Einsum and broadcasting notes",
    "",
    "What does torch.einsum compute?",
    "It evaluates a sum of products over the indices named in an equation string,",
    "for example torch.einsum('bij,bjk->bik', a, b) is a batched matrix multiply.",
    "",
    "Why can einsum be slower than a dedicated op?",
    "Unusual equations may fall back to permutes and reshapes before a bmm call,",
    "so a fused library kernel such as torch.bmm is often faster for the same contraction.",
]


def pdf_bytes(lines: list[str]) -> bytes:
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    stream = "BT /F1 11 Tf 14 TL 60 780 Td " + " ".join(f"({escape(line)}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


if __name__ == "__main__":
    Path(__file__).with_name("notes").joinpath("einsum.pdf").write_bytes(pdf_bytes(LINES))

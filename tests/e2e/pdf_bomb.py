#!/usr/bin/env python3
"""pdf_bomb.py OUT PAGES [REPS]: a small PDF that is slow to read (issue 17).

One Flate content stream of REPS `(a b ) Tj` runs at font size 0.01, shared by
every page: a few KiB on disk, seconds of poppler time per page.
"""
import sys, zlib
pages = int(sys.argv[2]); reps = int(sys.argv[3]) if len(sys.argv) > 3 else 400000
content = b"BT /F1 0.01 Tf 10 10 Td " + b"(a b ) Tj " * reps + b"ET"
z = zlib.compress(content, 9)
objs = []
objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
kids = " ".join("%d 0 R" % (5 + i) for i in range(pages))
objs.append(("<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages)).encode())
objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
objs.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(z) + z + b"\nendstream")
for i in range(pages):
    objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>")
out = bytearray(b"%PDF-1.4\n")
offs = []
for i, o in enumerate(objs):
    offs.append(len(out))
    out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
x = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
for o in offs:
    out += b"%010d 00000 n \n" % o
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
open(sys.argv[1], "wb").write(out)

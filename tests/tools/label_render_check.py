#!/usr/bin/env python3
"""Render a label sheet the way a printer would see it and check where the labels land.

    scripts/label-render-check.py LABELS.xlsx OUTDIR [cols rows width height left top [gap_x gap_y]]

Defaults to the a4-12 sheet (2 x 6 labels of 86.4 x 42.3 mm, left 18.6 mm, top 21.2 mm).
Converts the .xlsx to PDF with LibreOffice (`libreoffice --headless --convert-to pdf`),
reads the position of every word with `pdftotext -bbox`, and for each label text (the
word starting with 〒) reports the page, the label rectangle it falls in, and its
distance in millimetres from that label's top-left corner. Writes OUTDIR/page-N.png
(100 dpi) with the label rectangles drawn in red. Exits 1 if a 〒 falls outside every
label or two fall in the same label.

Needs libreoffice, poppler-utils and, for LibreOffice to measure column widths as Excel
does, the Courier New metrics (fonts-liberation: Liberation Mono).
"""
import html
import os
import re
import struct
import subprocess
import sys
import zlib

PT_TO_MM = 25.4 / 72


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    xlsx, out = sys.argv[1], sys.argv[2]
    nums = [float(x) for x in sys.argv[3:]]
    cols, rows, w, h, left, top = (nums + [0] * 6)[:6] if nums else (2, 6, 86.4, 42.3, 18.6, 21.2)
    gx, gy = (nums[6:8] + [0.0, 0.0])[:2] if len(nums) > 6 else (0.0, 0.0)
    cols, rows = int(cols), int(rows)
    os.makedirs(out, exist_ok=True)
    subprocess.run(["libreoffice", "--headless", "--convert-to", "pdf", "--outdir", out, xlsx],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pdf = os.path.join(out, os.path.splitext(os.path.basename(xlsx))[0] + ".pdf")
    bbox = os.path.join(out, "bbox.html")
    subprocess.run(["pdftotext", "-bbox", pdf, bbox], check=True)
    pages = html.unescape(open(bbox, encoding="utf-8").read()).split("<page ")[1:]
    bad = 0
    print(f"{'page':>4} {'label':>5} {'row':>3} {'col':>3} {'〒 x mm':>8} {'〒 y mm':>8} {'in label x':>10} {'in label y':>10}")
    for p, page in enumerate(pages, 1):
        seen = {}
        for m in re.finditer(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">(〒[^<]*)<', page):
            x, y = float(m.group(1)) * PT_TO_MM, float(m.group(2)) * PT_TO_MM
            c = int((x - left) // (w + gx)) if x >= left else -1
            r = int((y - top) // (h + gy)) if y >= top else -1
            inside = 0 <= c < cols and 0 <= r < rows
            if inside:
                lx, ly = x - left - c * (w + gx), y - top - r * (h + gy)
                inside = lx <= w and ly <= h
            if not inside or (r, c) in seen:
                bad += 1
                print(f"{p:>4}  OUTSIDE or twice: {m.group(3)} at {x:.2f}, {y:.2f} mm")
                continue
            seen[(r, c)] = True
            print(f"{p:>4} {r * cols + c + 1:>5} {r + 1:>3} {c + 1:>3} {x:>8.2f} {y:>8.2f} {lx:>10.2f} {ly:>10.2f}")
        png(pdf, out, p, cols, rows, w, h, left, top, gx, gy)
    print(f"{len(pages)} page(s); {'all labels inside their rectangles' if not bad else f'{bad} problem(s)'}")
    return 1 if bad else 0


def png(pdf, out, page, cols, rows, w, h, left, top, gx, gy, dpi=100):
    """The page at `dpi` with the label rectangles in red, as a PNG (no imaging library)."""
    base = os.path.join(out, f"page-{page}")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile", pdf, base],
                   check=True)
    data = open(base + ".ppm", "rb").read()
    magic, size, _maxval, pixels = data.split(b"\n", 3)
    assert magic == b"P6"
    width, height = map(int, size.split())
    px = bytearray(pixels)
    k = dpi / 25.4

    def put(x, y):
        if 0 <= x < width and 0 <= y < height:
            i = (y * width + x) * 3
            px[i:i + 3] = b"\xff\x00\x00"

    for r in range(rows):
        for c in range(cols):
            x0, y0 = round((left + c * (w + gx)) * k), round((top + r * (h + gy)) * k)
            x1, y1 = round((left + c * (w + gx) + w) * k), round((top + r * (h + gy) + h) * k)
            for x in range(x0, x1 + 1):
                put(x, y0)
                put(x, y1)
            for y in range(y0, y1 + 1):
                put(x0, y)
                put(x1, y)
    raw = b"".join(b"\x00" + bytes(px[y * width * 3:(y + 1) * width * 3]) for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(base + ".png", "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    os.remove(base + ".ppm")


if __name__ == "__main__":
    sys.exit(main())

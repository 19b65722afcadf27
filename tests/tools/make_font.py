#!/usr/bin/env python3
"""Make src/output/fonts/NotoSansJP-stepcard.ttf, the font every PDF embeds.

Source: Noto Sans CJK JP Regular (SIL Open Font License 1.1; Debian package
fonts-noto-cjk, /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc, face 0).
Kept: every character CP932 has (ASCII, JIS X 0208 kanji and kana, half-width kana,
NEC and IBM extensions such as ①〜⑳ and 髙), i.e. every character a Japanese carrier or
a roster written in Excel can hold. Layout tables (GSUB, GPOS, vertical metrics) are
dropped: stepcard places glyphs itself, one per character. The CFF outlines are
converted to TrueType (quadratic) outlines so the PDF embeds the font as FontFile2
with glyph ids as CIDs, which every viewer reads the same way.

    pip install fonttools
    python3 tests/tools/make_font.py [SOURCE.ttc]

then `cargo test pdf` and commit the font. The OFL allows subsetting and
redistribution; Noto has no Reserved Font Name.
"""
import sys
from fontTools import subset
from fontTools.ttLib import TTFont, newTable
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
OUT = "src/output/fonts/NotoSansJP-stepcard.ttf"


def cp932_chars():
    chars = set(range(0x20, 0x7F))
    for lead in list(range(0x81, 0xA0)) + list(range(0xE0, 0xFD)):
        for trail in list(range(0x40, 0x7F)) + list(range(0x80, 0xFD)):
            try:
                s = bytes([lead, trail]).decode("cp932")
            except UnicodeDecodeError:
                continue
            chars.update(ord(c) for c in s)
    for b in range(0xA1, 0xE0):
        chars.add(ord(bytes([b]).decode("cp932")))
    # Characters a roster holds in NFKC-normalized form and a few marks the documents use.
    chars.update([0x3000, 0x301C, 0xFF5E, 0x2212, 0x2010, 0x00A5, 0x00D7, 0x00F7])
    return chars


def to_truetype(font):
    order = font.getGlyphOrder()
    gs = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(gs)
        gs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    del font["CFF "]
    for g in glyphs.values():
        g.recalcBounds(glyf)
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, g in glyphs.items():
        adv, _ = hmtx.metrics[name]
        hmtx.metrics[name] = (adv, getattr(g, "xMin", 0))
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for k in ("maxZones",):
        setattr(maxp, k, 1)
    for k in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
              "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, k, 0)
    maxp.numGlyphs = len(order)
    font["maxp"] = maxp
    font.recalcBBoxes = True
    post = font["post"]
    post.formatType = 3.0
    font.sfntVersion = "\x00\x01\x00\x00"


def main():
    opts = subset.Options()
    opts.layout_features = []
    opts.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "DSIG"]
    opts.hinting = False
    opts.desubroutinize = True
    opts.font_number = 0
    opts.notdef_outline = True
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]
    font = subset.load_font(SRC, opts)
    s = subset.Subsetter(opts)
    s.populate(unicodes=sorted(cp932_chars()))
    s.subset(font)
    to_truetype(font)
    font.save(OUT)
    print(OUT, len(font.getGlyphOrder()), "glyphs")


main()

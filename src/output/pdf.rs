//! The one PDF layer every print-exact document is drawn through (point cards, labels,
//! the erasure certificate): A4 pages in millimetres with the origin at the paper's
//! top-left corner (converted to PDF points, origin bottom-left, here and only here),
//! text in the embedded Japanese font, lines, rectangles, filled rectangles, text
//! wrapped and fitted to a box, and QR codes drawn as filled modules.
//!
//! The font is Noto Sans CJK JP cut to the characters of CP932 (`fonts/`, SIL OFL 1.1;
//! made by `tests/tools/make_font.py`). Each file embeds only the outlines of the glyphs
//! it uses (`subsetter` keeps glyph ids, so a page can be written before the last glyph
//! is known), as a `FontFile2` under a subset name (`ABCDEF+…`), with a `ToUnicode` map
//! so the text can be searched and copied.
//!
//! Pages are written to the file as each is finished ([`super::StreamFile`]): what stays
//! in memory is the page being drawn, the set of glyphs used (at most the font's 7,486)
//! and 20 bytes per page for the cross-reference table and the page tree.

use super::{FileRecord, StreamFile};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// The embedded font (see the module comment and `fonts/OFL.txt`).
pub const FONT: &[u8] = include_bytes!("fonts/NotoSansJP-stepcard.ttf");
/// Its PostScript name, after the subset tag.
const FONT_NAME: &str = "NotoSansCJKjp-Regular";

pub const A4_W_MM: f64 = 210.0;
pub const A4_H_MM: f64 = 297.0;
/// The top of a line's em box above its baseline, in ems (the CJK ideographic em box:
/// 880/1000 above, 120/1000 below).
pub const ASCENT_EM: f64 = 0.88;
pub const DESCENT_EM: f64 = 0.12;

/// Whether an output path names a PDF (`.pdf`, any case).
pub fn is_pdf(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pdf"))
}

pub fn mm_to_pt(mm: f64) -> f64 {
    mm * 72.0 / 25.4
}

pub fn pt_to_mm(pt: f64) -> f64 {
    pt * 25.4 / 72.0
}

fn face() -> ttf_parser::Face<'static> {
    ttf_parser::Face::parse(FONT, 0).expect("the embedded font parses (tested)")
}

/// The characters of `s` the font has no glyph for (each once, in order): a document
/// checks its text with this before drawing, and names what cannot be printed.
pub fn missing_chars(s: &str) -> Vec<char> {
    let f = face();
    let mut out: Vec<char> = Vec::new();
    for c in s.chars() {
        if !c.is_control() && f.glyph_index(c).is_none() && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Glyph ids and advance widths (thousandths of an em); each character's glyph is
/// looked up once per thread (a document draws the same few hundred over and over).
struct Metrics {
    face: ttf_parser::Face<'static>,
    per_em: f64,
    glyphs: std::cell::RefCell<std::collections::HashMap<char, u16>>,
}

impl Metrics {
    fn new() -> Metrics {
        let face = face();
        let per_em = f64::from(face.units_per_em());
        Metrics {
            face,
            per_em,
            glyphs: Default::default(),
        }
    }

    fn glyph(&self, c: char) -> u16 {
        *self
            .glyphs
            .borrow_mut()
            .entry(c)
            .or_insert_with(|| self.face.glyph_index(c).map(|g| g.0).unwrap_or(0))
    }

    /// Advance of glyph `g` in thousandths of an em.
    fn advance(&self, g: u16) -> f64 {
        f64::from(
            self.face
                .glyph_hor_advance(ttf_parser::GlyphId(g))
                .unwrap_or(1000),
        ) * 1000.0
            / self.per_em
    }
}

thread_local! {
    static METRICS: Metrics = Metrics::new();
}

/// The width of `s` at `size_pt`, in millimetres.
pub fn text_width_mm(s: &str, size_pt: f64) -> f64 {
    METRICS.with(|m| {
        let em: f64 = s.chars().map(|c| m.advance(m.glyph(c))).sum();
        pt_to_mm(em / 1000.0 * size_pt)
    })
}

fn char_width_mm(c: char, size_pt: f64) -> f64 {
    METRICS.with(|m| pt_to_mm(m.advance(m.glyph(c)) / 1000.0 * size_pt))
}

/// Characters a line must not start with (行頭禁則): the character before them is
/// carried to the next line with them.
const NO_LINE_START: &str =
    "）」』】〕〉》｝ー～ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ・：；？！)]}:;!?";
/// Punctuation that may hang past the line's end instead (ぶら下げ).
const HANG: &str = "、。，．,.";

/// `s` broken into lines no wider than `width_mm` at `size_pt`: at a line break, a
/// space, anywhere between Japanese characters, before an ASCII word (not inside one),
/// never before a closing mark or small kana; 、。 may hang past the end. A single word
/// wider than the box is broken where it must be.
pub fn wrap(s: &str, size_pt: f64, width_mm: f64) -> Vec<String> {
    let mut lines = Vec::new();
    for para in s.split('\n') {
        let mut line = String::new();
        let mut w = 0.0;
        for c in para.chars() {
            let cw = char_width_mm(c, size_pt);
            if w + cw > width_mm + 1e-6 && !line.is_empty() {
                if HANG.contains(c) {
                    line.push(c);
                    w += cw;
                    continue;
                }
                let mut carry = String::new();
                let closing = NO_LINE_START.contains(c);
                let ends_ascii = line.chars().last().is_some_and(|l| l.is_ascii_graphic());
                if c.is_ascii_graphic() || (closing && ends_ascii) {
                    // Carry the ASCII word this character continues.
                    let start = line
                        .char_indices()
                        .rev()
                        .take_while(|(_, ch)| ch.is_ascii_graphic())
                        .last()
                        .map(|(i, _)| i);
                    if let Some(i) = start.filter(|&i| i > 0) {
                        carry = line.split_off(i);
                    }
                } else if closing && line.chars().count() > 1 {
                    if let Some(last) = line.pop() {
                        carry.push(last);
                    }
                }
                let done = std::mem::take(&mut line);
                lines.push(done.trim_end_matches(' ').to_string());
                line = carry;
                w = text_width_mm(&line, size_pt);
                if c == ' ' {
                    continue;
                }
            }
            line.push(c);
            w += cw;
        }
        lines.push(line);
    }
    lines
}

/// Text fitted to a box: the largest size from `max_pt` down to `min_pt` (half points)
/// at which the wrapped lines fit `w_mm` × `h_mm` with lines `spacing` ems apart; None
/// when it does not fit even at `min_pt`.
pub fn fit(
    s: &str,
    w_mm: f64,
    h_mm: f64,
    max_pt: f64,
    min_pt: f64,
    spacing: f64,
) -> Option<(f64, Vec<String>)> {
    let mut pt = max_pt;
    while pt >= min_pt - 1e-9 {
        let lines = wrap(s, pt, w_mm);
        let tall = pt_to_mm(pt * spacing) * (lines.len() as f64 - 1.0) + pt_to_mm(pt);
        // A hanging 、 or 。 may pass the edge (into the margin), as in print.
        let wide = lines
            .iter()
            .all(|l| text_width_mm(l.trim_end_matches(|c| HANG.contains(c)), pt) <= w_mm + 1e-6);
        if wide && tall <= h_mm + 1e-6 {
            return Some((pt, lines));
        }
        pt -= 0.5;
    }
    None
}

/// How text sits on its x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// A PDF being written: pages go to the file as each is finished.
pub struct Pdf {
    out: StreamFile,
    /// Offset of each object (object n at index n - 1); 0 until written.
    offsets: Vec<u64>,
    /// The page objects, for the page tree.
    pages: Vec<u32>,
    /// Glyphs used, with the text each stands for (the ToUnicode map).
    used: BTreeMap<u16, char>,
    page: Option<Vec<u8>>,
    title: String,
}

const CATALOG: u32 = 1;
const PAGES: u32 = 2;
const TYPE0: u32 = 3;
const CIDFONT: u32 = 4;
const DESCRIPTOR: u32 = 5;
const FONTFILE: u32 = 6;
const TOUNICODE: u32 = 7;
const INFO: u32 = 8;
const FIXED_OBJECTS: u32 = 8;

/// A number as PDF writes it: at most 3 decimals, no trailing zeros.
fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

fn x_pt(x_mm: f64) -> String {
    num(mm_to_pt(x_mm))
}

fn y_pt(y_mm: f64) -> String {
    num(mm_to_pt(A4_H_MM - y_mm))
}

/// A PDF text string for the document information: UTF-16BE in hex.
fn utf16_hex(s: &str) -> String {
    let mut h = String::from("<FEFF");
    for u in s.encode_utf16() {
        let _ = write!(h, "{u:04X}");
    }
    h.push('>');
    h
}

fn deflate(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(bytes)?;
    Ok(z.finish()?)
}

impl Pdf {
    /// Start a PDF at `path` (through the one file writer: announced, temporary name).
    pub fn create(path: &Path, title: &str) -> Result<Pdf> {
        let mut out = StreamFile::create(path)?;
        // The binary comment marks the file as binary for transfer programs.
        out.write(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?;
        Ok(Pdf {
            out,
            offsets: vec![0; FIXED_OBJECTS as usize],
            pages: Vec::new(),
            used: BTreeMap::new(),
            page: None,
            title: title.to_string(),
        })
    }

    fn new_object(&mut self) -> u32 {
        self.offsets.push(0);
        self.offsets.len() as u32
    }

    fn object(&mut self, id: u32, body: &[u8]) -> Result<()> {
        self.offsets[id as usize - 1] = self.out.position();
        self.out.write(format!("{id} 0 obj\n").as_bytes())?;
        self.out.write(body)?;
        self.out.write(b"\nendobj\n")
    }

    fn stream(&mut self, id: u32, dict: &str, data: &[u8]) -> Result<()> {
        let z = deflate(data)?;
        let mut body = format!(
            "<< {dict} /Length {} /Filter /FlateDecode >>\nstream\n",
            z.len()
        )
        .into_bytes();
        body.extend_from_slice(&z);
        body.extend_from_slice(b"\nendstream");
        self.object(id, &body)
    }

    /// Start a new A4 portrait page (the one before it is finished first).
    pub fn page(&mut self) -> Result<()> {
        self.end_page()?;
        self.page = Some(Vec::with_capacity(16 * 1024));
        Ok(())
    }

    fn end_page(&mut self) -> Result<()> {
        let Some(content) = self.page.take() else {
            return Ok(());
        };
        let page = self.new_object();
        let contents = self.new_object();
        self.stream(contents, "", &content)?;
        let body = format!(
            "<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {} {}] /Resources << /Font << /F1 {TYPE0} 0 R >> >> /Contents {contents} 0 R >>",
            num(mm_to_pt(A4_W_MM)),
            num(mm_to_pt(A4_H_MM))
        );
        self.object(page, body.as_bytes())?;
        self.pages.push(page);
        Ok(())
    }

    /// Pages finished or begun.
    pub fn page_count(&self) -> usize {
        self.pages.len() + usize::from(self.page.is_some())
    }

    fn ops(&mut self) -> &mut Vec<u8> {
        self.page.get_or_insert_with(Vec::new)
    }

    /// Text whose em box's top-left corner is at (`x`, `top`) mm (or its top-centre /
    /// top-right with `align`), at `size_pt`, black or `gray` (0 black … 1 white).
    pub fn text_gray(&mut self, x: f64, top: f64, size_pt: f64, s: &str, align: Align, gray: f64) {
        if s.is_empty() {
            return;
        }
        let w = text_width_mm(s, size_pt);
        let x = match align {
            Align::Left => x,
            Align::Center => x - w / 2.0,
            Align::Right => x - w,
        };
        let baseline = top + pt_to_mm(size_pt * ASCENT_EM);
        let mut hex = String::with_capacity(s.len() * 4);
        METRICS.with(|m| {
            for c in s.chars() {
                let g = m.glyph(c);
                self.used.entry(g).or_insert(c);
                let _ = write!(hex, "{g:04X}");
            }
        });
        let op = format!(
            "BT {} g /F1 {} Tf {} {} Td <{hex}> Tj ET\n",
            num(gray),
            num(size_pt),
            x_pt(x),
            y_pt(baseline)
        );
        self.ops().extend_from_slice(op.as_bytes());
    }

    pub fn text(&mut self, x: f64, top: f64, size_pt: f64, s: &str) {
        self.text_gray(x, top, size_pt, s, Align::Left, 0.0);
    }

    pub fn text_aligned(&mut self, x: f64, top: f64, size_pt: f64, s: &str, align: Align) {
        self.text_gray(x, top, size_pt, s, align, 0.0);
    }

    /// Lines of text from `top` down, `spacing` ems apart; returns the y below the last.
    pub fn lines(&mut self, x: f64, top: f64, size_pt: f64, spacing: f64, lines: &[String]) -> f64 {
        let step = pt_to_mm(size_pt * spacing);
        let mut y = top;
        for l in lines {
            self.text(x, y, size_pt, l);
            y += step;
        }
        y
    }

    /// `s` wrapped to `w_mm` from (`x`, `top`); returns the y below the last line.
    pub fn paragraph(&mut self, x: f64, top: f64, w_mm: f64, size_pt: f64, s: &str) -> f64 {
        let lines = wrap(s, size_pt, w_mm);
        self.lines(x, top, size_pt, 1.5, &lines)
    }

    /// A straight line `width_pt` thick.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, width_pt: f64) {
        let op = format!(
            "0 G {} w {} {} m {} {} l S\n",
            num(width_pt),
            x_pt(x1),
            y_pt(y1),
            x_pt(x2),
            y_pt(y2)
        );
        self.ops().extend_from_slice(op.as_bytes());
    }

    /// The outline of a rectangle whose top-left corner is (`x`, `y`).
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, width_pt: f64) {
        let op = format!(
            "0 G {} w {} {} {} {} re S\n",
            num(width_pt),
            x_pt(x),
            y_pt(y + h),
            num(mm_to_pt(w)),
            num(mm_to_pt(h))
        );
        self.ops().extend_from_slice(op.as_bytes());
    }

    /// A rectangle filled with `gray` (0 black … 1 white).
    pub fn fill_rect(&mut self, x: f64, y: f64, w: f64, h: f64, gray: f64) {
        let op = format!(
            "{} g {} {} {} {} re f\n",
            num(gray),
            x_pt(x),
            y_pt(y + h),
            num(mm_to_pt(w)),
            num(mm_to_pt(h))
        );
        self.ops().extend_from_slice(op.as_bytes());
    }

    /// A QR code of `data`, `size_mm` square including its quiet zone of 4 modules,
    /// top-left at (`x`, `y`); error correction level M.
    pub fn qr(&mut self, x: f64, y: f64, size_mm: f64, data: &str) -> Result<()> {
        let code = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M)
            .with_context(|| {
                format!("QR コードを作れません（{data}） (cannot make the QR code)")
            })?;
        let n = code.width();
        let module = size_mm / (n + 8) as f64;
        let colors = code.to_colors();
        let mut op = String::from("0 g\n");
        for (i, c) in colors.iter().enumerate() {
            if *c != qrcode::Color::Dark {
                continue;
            }
            let (r, col) = (i / n, i % n);
            let mx = x + (col + 4) as f64 * module;
            let my = y + (r + 4) as f64 * module;
            // A hair larger than the module so neighbours leave no seam when rendered.
            let _ = writeln!(
                op,
                "{} {} {} {} re",
                x_pt(mx),
                y_pt(my + module),
                num(mm_to_pt(module) + 0.01),
                num(mm_to_pt(module) + 0.01)
            );
        }
        op.push_str("f\n");
        self.ops().extend_from_slice(op.as_bytes());
        Ok(())
    }

    /// Finish the file: the font cut to the glyphs used, the page tree, the cross-
    /// reference table. Returns the file's record (renamed into place, hashed).
    pub fn finish(mut self) -> Result<FileRecord> {
        if self.page.is_none() && self.pages.is_empty() {
            self.page()?;
        }
        self.end_page()?;
        self.used.entry(0).or_insert('\u{FFFD}');
        let gids: Vec<u16> = self.used.keys().copied().collect();
        let tag = subset_tag(&gids);
        let base = format!("{tag}+{FONT_NAME}");

        let sub = subsetter::subset(FONT, 0, subsetter::Profile::pdf(&gids)).map_err(|e| {
            anyhow::anyhow!("フォントを埋め込めません: {e} (cannot subset the font)")
        })?;
        let dict = format!("/Length1 {}", sub.len());
        self.stream(FONTFILE, &dict, &sub)?;

        let f = face();
        let bbox = f.global_bounding_box();
        let per_em = f64::from(f.units_per_em());
        let k = |v: i16| num(f64::from(v) * 1000.0 / per_em);
        let cap = f.capital_height().unwrap_or(733);
        let desc = format!(
            "<< /Type /FontDescriptor /FontName /{base} /Flags 4 /FontBBox [{} {} {} {}] /ItalicAngle 0 /Ascent {} /Descent {} /CapHeight {} /StemV 80 /FontFile2 {FONTFILE} 0 R >>",
            k(bbox.x_min),
            k(bbox.y_min),
            k(bbox.x_max),
            k(bbox.y_max),
            num(ASCENT_EM * 1000.0),
            num(-DESCENT_EM * 1000.0),
            k(cap)
        );
        self.object(DESCRIPTOR, desc.as_bytes())?;

        let mut w = String::from("[");
        METRICS.with(|m| {
            for g in &gids {
                let _ = write!(w, " {g} [{}]", num(m.advance(*g)));
            }
        });
        w.push_str(" ]");
        let cid = format!(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{base} /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor {DESCRIPTOR} 0 R /DW 1000 /W {w} /CIDToGIDMap /Identity >>"
        );
        self.object(CIDFONT, cid.as_bytes())?;

        let cmap = to_unicode(&self.used);
        self.stream(TOUNICODE, "", cmap.as_bytes())?;
        let type0 = format!(
            "<< /Type /Font /Subtype /Type0 /BaseFont /{base} /Encoding /Identity-H /DescendantFonts [{CIDFONT} 0 R] /ToUnicode {TOUNICODE} 0 R >>"
        );
        self.object(TYPE0, type0.as_bytes())?;

        let mut kids = String::new();
        for p in &self.pages {
            let _ = write!(kids, "{p} 0 R ");
        }
        let pages = format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.trim_end(),
            self.pages.len()
        );
        self.object(PAGES, pages.as_bytes())?;
        let catalog = format!("<< /Type /Catalog /Pages {PAGES} 0 R >>");
        self.object(CATALOG, catalog.as_bytes())?;
        let info = format!(
            "<< /Title {} /Producer (stepcard) >>",
            utf16_hex(&self.title)
        );
        self.object(INFO, info.as_bytes())?;

        let xref = self.out.position();
        let mut t = format!("xref\n0 {}\n0000000000 65535 f \n", self.offsets.len() + 1);
        for o in &self.offsets {
            let _ = writeln!(t, "{o:010} 00000 n ");
        }
        let _ = write!(
            t,
            "trailer\n<< /Size {} /Root {CATALOG} 0 R /Info {INFO} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            self.offsets.len() + 1
        );
        self.out.write(t.as_bytes())?;
        self.out.finish()
    }
}

/// Six capital letters from the glyph set, as PDF names a font subset.
fn subset_tag(gids: &[u16]) -> String {
    let mut bytes = Vec::with_capacity(gids.len() * 2);
    for g in gids {
        bytes.extend_from_slice(&g.to_be_bytes());
    }
    let h = super::sha256_hex(&bytes);
    h.bytes()
        .take(6)
        .map(|b| (b'A' + (b % 26)) as char)
        .collect()
}

/// The ToUnicode CMap: each glyph id to the character it was drawn for.
fn to_unicode(used: &BTreeMap<u16, char>) -> String {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<(&u16, &char)> = used.iter().filter(|(g, _)| **g != 0).collect();
    for chunk in entries.chunks(100) {
        let _ = writeln!(s, "{} beginbfchar", chunk.len());
        for (g, c) in chunk {
            let mut u = String::new();
            let mut buf = [0u16; 2];
            for x in c.encode_utf16(&mut buf) {
                let _ = write!(u, "{x:04X}");
            }
            let _ = writeln!(s, "<{g:04X}> <{u}>");
        }
        s.push_str("endbfchar\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_has_the_characters_documents_use() {
        assert!(
            missing_chars("〒123-4567 東京都千代田区 髙橋 ①様 日月火水木金土 ０１ ｱｲｳ").is_empty()
        );
        assert_eq!(missing_chars("𠮷野家😀"), vec!['𠮷', '😀']);
    }

    #[test]
    fn widths_and_wrapping() {
        // A full-width character is 1 em: 10 pt = 3.53 mm.
        assert!((text_width_mm("日", 10.0) - pt_to_mm(10.0)).abs() < 1e-6);
        let lines = wrap(
            "東京都千代田区千代田一丁目一番一号、テスト。",
            10.0,
            pt_to_mm(10.0) * 7.0,
        );
        assert_eq!(lines[0], "東京都千代田区");
        // 、 never starts a line: it hangs on the one before.
        assert!(lines
            .iter()
            .skip(1)
            .all(|l| !l.starts_with('、') && !l.starts_with('。')));
        assert_eq!(
            lines.concat(),
            "東京都千代田区千代田一丁目一番一号、テスト。"
        );
        assert_eq!(
            wrap("abc def", 10.0, text_width_mm("abc de", 10.0)),
            vec!["abc", "def"]
        );
        // An ASCII word is carried whole, not split, and what went before stays.
        let w = text_width_mm("あいうえおかきくけこUTF", 10.0);
        let l = wrap("あいうえおかきくけこUTF-8 さしすせそ", 10.0, w);
        assert_eq!(l[0], "あいうえおかきくけこ");
        assert!(l[1].starts_with("UTF-8"), "{l:?}");
        // A closing mark after a number takes the whole number down with it.
        let w = text_width_mm("（例: 850", 10.0);
        assert_eq!(wrap("（例: 8500）。", 10.0, w), vec!["（例:", "8500）。"]);
        // Small kana never start a line: the character before goes down with it.
        let w = text_width_mm("チェ", 10.0);
        assert_eq!(wrap("チェック", 10.0, w), vec!["チ", "ェッ", "ク"]);
        // No line is wider than the box except by a hanging 、 or 。
        let text = "アプリケーション（stepcard）による論理消去: secure_delete を有効にした全行削除、WAL のチェックポイントと切り詰め、VACUUM。";
        for width in [30.0, 45.0, 60.0] {
            for l in wrap(text, 9.0, width) {
                let l = l.trim_end_matches(['、', '。']);
                assert!(text_width_mm(l, 9.0) <= width + 1e-6, "{l} > {width}");
            }
        }
        let (pt, l) = fit(
            "あいうえおかきくけこ",
            pt_to_mm(50.0),
            pt_to_mm(26.0),
            12.0,
            5.0,
            1.5,
        )
        .unwrap();
        assert_eq!((pt, l.len()), (10.0, 2));
        assert!(fit("あいうえおかきくけこ", 1.0, 1.0, 12.0, 7.0, 1.5).is_none());
    }

    #[test]
    fn a_written_pdf_has_a_sound_cross_reference_table_and_an_embedded_subset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pdf");
        let mut pdf = Pdf::create(&path, "試験").unwrap();
        pdf.page().unwrap();
        pdf.text(20.0, 20.0, 12.0, "参加者番号 C000001");
        pdf.rect(10.0, 10.0, 50.0, 20.0, 0.5);
        pdf.fill_rect(10.0, 40.0, 5.0, 5.0, 0.8);
        pdf.line(0.0, 0.0, 210.0, 297.0, 0.3);
        pdf.qr(100.0, 100.0, 30.0, "C000001").unwrap();
        pdf.page().unwrap();
        pdf.text(20.0, 20.0, 12.0, "二頁目");
        let rec = pdf.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(rec.bytes, bytes.len() as u64);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/Count 2"));
        assert!(text.contains("/FontFile2"));
        let tag_at = text.find("/BaseFont /").unwrap() + 11;
        let tag = &text[tag_at..tag_at + 7];
        assert!(
            tag.ends_with('+') && tag[..6].bytes().all(|b| b.is_ascii_uppercase()),
            "{tag}"
        );
        // Every offset in the table points at its object.
        let find = |needle: &[u8]| {
            bytes
                .windows(needle.len())
                .rposition(|w| w == needle)
                .unwrap()
        };
        let after = &bytes[find(b"startxref") + 10..];
        let start: usize =
            std::str::from_utf8(&after[..after.iter().position(|b| *b == b'\n').unwrap()])
                .unwrap()
                .parse()
                .unwrap();
        let table = std::str::from_utf8(&bytes[start..]).unwrap();
        let mut n = 0;
        for (i, l) in table
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .enumerate()
        {
            let off: usize = l[..10].parse().unwrap();
            assert!(
                bytes[off..].starts_with(format!("{} 0 obj", i + 1).as_bytes()),
                "object {}",
                i + 1
            );
            n += 1;
        }
        assert_eq!(n, 12);
        // Small: the 2 MB font is cut to the glyphs used.
        assert!(bytes.len() < 60_000, "{}", bytes.len());
    }
}

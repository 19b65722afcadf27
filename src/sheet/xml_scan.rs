//! A bounded, streaming look at a workbook's XML parts before calamine reads them.
//!
//! calamine reads XML with quick-xml, which gathers each text run and each tag into one
//! buffer: 2 GiB of whitespace between two cells becomes a 2 GiB buffer. The .ods reader
//! builds every sheet's whole grid (repeated cells expanded) when the file is opened.
//! And the .xlsx cell reader takes a damaged shared-string index (`abc`, `-1`, `1.9`) as
//! index 0, and passes a repeated row or cell on as if it were new. So each part is first
//! streamed here, in fixed-size pieces, by a small tokenizer that never holds more than
//! one tag: it refuses, naming the sheet and cell, what calamine would misread or what
//! would make it allocate without bound. Nothing is kept from this pass but counters.

use std::io::Read;

use anyhow::{anyhow, Result};

use super::cell_name;

/// Largest decompressed size of one sheet part (`xl/worksheets/sheetN.xml`, `content.xml`)
/// read. The biggest real sheets here, a 1,048,576-row long layout or a 10,000-participant
/// card of 400 columns, are 150 to 250 MB of XML; twice that still reads in seconds,
/// while a "zip bomb" part stops here instead of running for minutes.
pub(crate) const MAX_PART_BYTES: u64 = 512 * 1024 * 1024;
/// Longest text in one cell, in bytes of XML. Excel holds at most 32,767 characters in a
/// cell, about 100 KB as UTF-8 and at most ~500 KB with every character escaped.
pub(crate) const MAX_CELL_TEXT_BYTES: u64 = 1024 * 1024;
/// Longest run of text between two tags outside a cell (Excel writes none but line
/// breaks) and longest single tag: a whitespace bomb stops here, before calamine would
/// gather it into one buffer.
pub(crate) const MAX_RUN_BYTES: u64 = 1024 * 1024;
/// Rows and columns Excel can have: a row or cell beyond them was not made by Excel.
pub(crate) const XLSX_MAX_ROWS: u32 = 1_048_576;
pub(crate) const XLSX_MAX_COLS: u32 = 16_384;
/// Cells the .ods reader may build in memory, over all sheets (calamine materializes
/// every sheet's grid at open, ~56 bytes a cell with its formula grid, and briefly
/// twice that): about 110 MiB. A 5,000-participant card sheet of 400 columns fits; a
/// bigger book reads, streamed, when saved as .xlsx.
pub(crate) const MAX_ODS_CELLS: u64 = 2_000_000;
/// Bytes of cell text the .ods reader may build in memory, repeated cells counted once
/// per repetition (calamine copies the text into each).
pub(crate) const MAX_ODS_TEXT_BYTES: u64 = 64 * 1024 * 1024;

/// What the tokenizer reports.
pub(crate) enum Ev<'a> {
    /// A start tag (`self_closing` for `<x/>`): its qualified name and raw tag bytes.
    Start {
        name: &'a [u8],
        tag: &'a [u8],
        self_closing: bool,
    },
    End {
        name: &'a [u8],
    },
    /// A piece of text (a text run may come in several pieces).
    Text(&'a [u8]),
}

/// Whether to read on.
#[derive(PartialEq, Eq)]
pub(crate) enum Flow {
    Go,
    Stop,
}

/// Why the tokenizer stopped, when it was not the handler.
pub(crate) enum Limit {
    /// The part is larger than [`MAX_PART_BYTES`].
    Part,
    /// A tag or a text run outside a cell longer than [`MAX_RUN_BYTES`].
    Run,
}

/// Stream `r` through `on`, never holding more than one tag. `on` gets text runs only
/// in pieces; `limit` is called when a bound is passed and its error is returned.
pub(crate) fn scan(
    mut r: impl Read,
    mut on: impl FnMut(Ev<'_>) -> Result<Flow>,
    mut limit: impl FnMut(Limit) -> anyhow::Error,
) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut tag: Vec<u8> = Vec::with_capacity(256);
    let mut in_tag = false;
    let mut quote: Option<u8> = None;
    let mut total: u64 = 0;
    let mut run: u64 = 0;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // A damaged stream: calamine reports it with its own words.
            Err(_) => return Ok(()),
        };
        total += n as u64;
        if total > MAX_PART_BYTES {
            return Err(limit(Limit::Part));
        }
        let mut i = 0;
        let chunk = &buf[..n];
        while i < n {
            if !in_tag {
                let rest = &chunk[i..];
                let j = find(rest, |b| b == b'<', |far| memchr::memchr(b'<', far))
                    .unwrap_or(rest.len());
                if j > 0 {
                    run += j as u64;
                    if on(Ev::Text(&rest[..j]))? == Flow::Stop {
                        return Ok(());
                    }
                    if run > MAX_RUN_BYTES {
                        return Err(limit(Limit::Run));
                    }
                }
                i += j;
                if i < n {
                    // Skip '<'.
                    i += 1;
                    in_tag = true;
                    tag.clear();
                    quote = None;
                }
                continue;
            }
            // Inside a tag: up to the '>' outside quotes (comments and CDATA up to
            // their own ends). The common tag lies whole in the piece: found and handed
            // on without copying.
            if tag.is_empty() && quote.is_none() && chunk[i] != b'!' {
                let rest = &chunk[i..];
                if let Some(k) = tag_end(rest) {
                    if k as u64 > MAX_RUN_BYTES {
                        return Err(limit(Limit::Run));
                    }
                    i += k + 1;
                    in_tag = false;
                    run = 0;
                    if emit(&rest[..k], &mut on)? == Flow::Stop {
                        return Ok(());
                    }
                    continue;
                }
            }
            let b = chunk[i];
            i += 1;
            if let Some(q) = quote {
                if b == q {
                    quote = None;
                }
                tag.push(b);
            } else if b == b'>' && tag_complete(&tag) {
                in_tag = false;
                run = 0;
                if emit(&tag, &mut on)? == Flow::Stop {
                    return Ok(());
                }
                continue;
            } else {
                if (b == b'"' || b == b'\'') && tag.first() != Some(&b'!') {
                    quote = Some(b);
                }
                tag.push(b);
            }
            if tag.len() as u64 > MAX_RUN_BYTES {
                return Err(limit(Limit::Run));
            }
        }
    }
}

/// Bytes looked at one by one before a SIMD search: a sheet's tags and the text between
/// them are mostly shorter than this, where `memchr`'s setup costs more than the bytes.
const SHORT: usize = 32;

/// Position of the first byte of `s` that `hit` accepts: the first [`SHORT`] bytes one
/// by one, then `far` (the same search by `memchr` on `s[SHORT..]`, from the start).
#[inline(always)]
fn find(
    s: &[u8],
    hit: impl Fn(u8) -> bool,
    far: impl FnOnce(&[u8]) -> Option<usize>,
) -> Option<usize> {
    let head = s.len().min(SHORT);
    match s[..head].iter().position(|&b| hit(b)) {
        Some(k) => Some(k),
        None => far(&s[head..]).map(|k| k + head),
    }
}

/// Position of the `>` ending a tag that starts `s` (after its `<`), outside quotes.
fn tag_end(s: &[u8]) -> Option<usize> {
    // From quote to quote to the '>'.
    let mut k = 0;
    loop {
        let rest = &s[k..];
        let j = k + find(
            rest,
            |b| b == b'>' || b == b'"' || b == b'\'',
            |far| memchr::memchr3(b'>', b'"', b'\'', far),
        )?;
        let q = s[j];
        if q == b'>' {
            return Some(j);
        }
        let rest = &s[j + 1..];
        k = j + 1 + find(rest, |b| b == q, |far| memchr::memchr(q, far))? + 1;
    }
}

/// A tag (without its `<`) ends at this `>`: comments need `--`, CDATA `]]` before it.
fn tag_complete(tag: &[u8]) -> bool {
    if tag.starts_with(b"!--") {
        return tag.len() >= 5 && tag.ends_with(b"--");
    }
    if tag.starts_with(b"![CDATA[") {
        return tag.ends_with(b"]]");
    }
    true
}

fn emit(tag: &[u8], on: &mut impl FnMut(Ev<'_>) -> Result<Flow>) -> Result<Flow> {
    match tag.first() {
        Some(b'/') => {
            let name = name_of(&tag[1..]);
            on(Ev::End { name })
        }
        Some(b'!') => match tag.strip_prefix(b"![CDATA[") {
            Some(body) => on(Ev::Text(body.strip_suffix(b"]]").unwrap_or(body))),
            None => Ok(Flow::Go),
        },
        Some(b'?') | None => Ok(Flow::Go),
        Some(_) => {
            let self_closing = tag.ends_with(b"/");
            let name = name_of(tag);
            let flow = on(Ev::Start {
                name,
                tag,
                self_closing,
            })?;
            if flow == Flow::Stop || !self_closing {
                return Ok(flow);
            }
            on(Ev::End { name })
        }
    }
}

fn name_of(tag: &[u8]) -> &[u8] {
    let end = tag
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'/')
        .unwrap_or(tag.len());
    &tag[..end]
}

/// The name without its namespace prefix.
pub(crate) fn local(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// Each attribute of `tag` as (qualified name, raw value), in order, until `each` says
/// to stop. An attribute whose value is not quoted ends the walk (calamine refuses it).
fn walk_attrs<'t>(tag: &'t [u8], mut each: impl FnMut(&'t [u8], &'t [u8]) -> bool) {
    let mut i = name_of(tag).len();
    let n = tag.len();
    while i < n {
        while i < n && (tag[i].is_ascii_whitespace() || tag[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < n && tag[i] != b'=' && !tag[i].is_ascii_whitespace() {
            i += 1;
        }
        let name = &tag[start..i];
        while i < n && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n || tag[i] != b'=' {
            // An attribute without a value: not well-formed; calamine says so.
            if name.is_empty() {
                i += 1;
            }
            continue;
        }
        i += 1;
        while i < n && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        let Some(&q) = tag.get(i) else { return };
        if q != b'"' && q != b'\'' {
            return;
        }
        i += 1;
        let vstart = i;
        i = find(&tag[i..], |b| b == q, |far| memchr::memchr(q, far)).map_or(n, |k| i + k);
        let value = &tag[vstart..i];
        i += 1;
        if each(name, value) {
            return;
        }
    }
}

/// The raw value of attribute `key` (matched on the whole qualified name, or on the
/// local name when `key` has no prefix and `any_prefix` is set).
pub(crate) fn attr<'t>(tag: &'t [u8], key: &[u8], any_prefix: bool) -> Option<&'t [u8]> {
    let mut found = None;
    walk_attrs(tag, |name, value| {
        if name == key || (any_prefix && local(name) == key) {
            found = Some(value);
        }
        found.is_some()
    });
    found
}

/// [`attr`] (whole names) of two keys in one walk over the tag.
fn attr2<'t>(tag: &'t [u8], a: &[u8], b: &[u8]) -> (Option<&'t [u8]>, Option<&'t [u8]>) {
    let (mut va, mut vb) = (None, None);
    walk_attrs(tag, |name, value| {
        if va.is_none() && name == a {
            va = Some(value);
        } else if vb.is_none() && name == b {
            vb = Some(value);
        }
        va.is_some() && vb.is_some()
    });
    (va, vb)
}

/// XML-unescape an attribute value (the five entities and character references).
pub(crate) fn unescape(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    if !s.contains('&') {
        return s.into_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = &*s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(semi) = after.find(';').filter(|&k| k <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let ent = &after[..semi];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn digits_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')))
}

/// `A1`-style reference as 1-based row and 0-based column; `None` if malformed.
fn cell_ref(v: &[u8]) -> Option<(u64, u64)> {
    let letters = v.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    if letters == 0 || letters > 3 {
        return None;
    }
    let col = v[..letters].iter().fold(0u64, |a, &c| {
        a * 26 + u64::from(c.to_ascii_uppercase() - b'A' + 1)
    }) - 1;
    let row = digits_u64(&v[letters..])?;
    Some((row, col))
}

/// Where a sheet scan is, for messages.
pub(crate) struct Place<'a> {
    pub file: &'a str,
    pub sheet: &'a str,
}

impl Place<'_> {
    fn cell(&self, row: u64, col: u64) -> String {
        cell_name(
            u32::try_from(row).unwrap_or(u32::MAX),
            usize::try_from(col).unwrap_or(usize::MAX),
        )
    }

    fn refuse(&self, what: &str, gloss: &str) -> anyhow::Error {
        let (file, sheet) = (self.file, self.sheet);
        anyhow!(
            "{file}: シート「{sheet}」{what}。壊れているか、Excel 以外で作られたブックです。\
             Excel で開き直して「Excel ブック (*.xlsx)」として保存し直してください。 ({gloss})"
        )
    }

    /// The error for a bound passed by the tokenizer, near `row` (1-based; 0 before any).
    pub(crate) fn limit(&self, l: Limit, row: u64) -> anyhow::Error {
        let near = if row == 0 {
            "の先頭".to_string()
        } else {
            format!("の {row}行目付近")
        };
        match l {
            Limit::Part => self.refuse(
                &format!(
                    "のデータが大きすぎます（展開して {} MiB まで）",
                    MAX_PART_BYTES / 1024 / 1024
                ),
                "sheet part too large when decompressed",
            ),
            Limit::Run => self.refuse(
                &format!(
                    "{near}に、表のデータではない巨大な部分（{} MiB を超える空白など）があります",
                    MAX_RUN_BYTES / 1024 / 1024
                ),
                "oversized whitespace or tag in the sheet XML",
            ),
        }
    }
}

/// Checks one .xlsx worksheet part as calamine's cell reader will read it.
pub(crate) struct XlsxSheetCheck<'a> {
    place: Place<'a>,
    /// Strings in the shared-strings table.
    strings: u64,
    in_data: bool,
    /// 1-based number of the current `<row>` (0 before the first).
    row: u64,
    /// Position of the last cell, (1-based row, 0-based column).
    last_cell: Option<(u64, u64)>,
    next_col: u64,
    /// The current cell: position, shared-string type, inside `<v>`, text bytes.
    cell: Option<(u64, u64)>,
    shared: bool,
    in_v: bool,
    v: [u8; 24],
    v_len: usize,
    text: u64,
}

impl<'a> XlsxSheetCheck<'a> {
    pub(crate) fn new(place: Place<'a>, strings: u64) -> Self {
        XlsxSheetCheck {
            place,
            strings,
            in_data: false,
            row: 0,
            last_cell: None,
            next_col: 0,
            cell: None,
            shared: false,
            in_v: false,
            v: [0; 24],
            v_len: 0,
            text: 0,
        }
    }

    /// Scan the part read by `r`.
    pub(crate) fn run(mut self, r: impl Read) -> Result<()> {
        let row = std::cell::Cell::new(0u64);
        let place = Place {
            file: self.place.file,
            sheet: self.place.sheet,
        };
        scan(
            r,
            |ev| {
                let flow = self.on(ev);
                row.set(self.row);
                flow
            },
            |l| place.limit(l, row.get()),
        )
    }

    fn on(&mut self, ev: Ev<'_>) -> Result<Flow> {
        match ev {
            Ev::Start { name, tag, .. } => match local(name) {
                b"sheetData" => self.in_data = true,
                b"row" if self.in_data => self.start_row(tag)?,
                b"c" if self.in_data => self.start_cell(tag)?,
                b"v" if self.cell.is_some() => {
                    self.in_v = true;
                    self.v_len = 0;
                }
                _ => {}
            },
            Ev::End { name } => match local(name) {
                b"sheetData" => return Ok(Flow::Stop),
                b"row" => self.next_col = 0,
                b"v" if self.in_v => {
                    self.in_v = false;
                    if self.shared {
                        self.check_index()?;
                    }
                }
                b"c" => self.cell = None,
                _ => {}
            },
            Ev::Text(t) => {
                if let Some((r, c)) = self.cell {
                    self.text += t.len() as u64;
                    if self.text > MAX_CELL_TEXT_BYTES {
                        let name = self.place.cell(r, c);
                        let sheet = self.place.sheet;
                        return Err(self.place.refuse(
                            &format!(
                                "のセル {name}（{sheet}!{name}）の文字が長すぎます（1 セル {} KiB まで）",
                                MAX_CELL_TEXT_BYTES / 1024
                            ),
                            &format!("cell {sheet}!{name} holds too much text"),
                        ));
                    }
                    if self.in_v && self.shared {
                        for &b in t {
                            if let Some(slot) = self.v.get_mut(self.v_len) {
                                *slot = b;
                            }
                            self.v_len = self.v_len.saturating_add(1);
                        }
                    }
                }
            }
        }
        Ok(Flow::Go)
    }

    fn start_row(&mut self, tag: &[u8]) -> Result<()> {
        let number = match attr(tag, b"r", false) {
            None => self.row + 1,
            Some(v) => match digits_u64(v) {
                Some(n) if n >= 1 => n,
                _ => {
                    let shown = String::from_utf8_lossy(&v[..v.len().min(30)]).into_owned();
                    return Err(self.place.refuse(
                        &format!("の {}行目の次の行番号「{shown}」が読めません", self.row),
                        "invalid row number",
                    ));
                }
            },
        };
        if number > u64::from(XLSX_MAX_ROWS) {
            return Err(self.place.refuse(
                &format!("に行番号 {number} があり、Excel の上限 {XLSX_MAX_ROWS} 行を超えています"),
                "row number beyond Excel's limit",
            ));
        }
        if number <= self.row {
            let prev = self.row;
            let what = if number == prev {
                format!("の {number}行目が二度書かれています（どちらが正しいか決められません）")
            } else {
                format!("の {number}行目が {prev}行目の後に置かれていて、行の並びが壊れています")
            };
            return Err(self.place.refuse(
                &what,
                &format!("row {number} repeated or out of order after row {prev}"),
            ));
        }
        self.row = number;
        self.next_col = 0;
        Ok(())
    }

    fn start_cell(&mut self, tag: &[u8]) -> Result<()> {
        let sheet = self.place.sheet;
        let (r_attr, t_attr) = attr2(tag, b"r", b"t");
        let (r, c) = match r_attr {
            None => (self.row.max(1), self.next_col),
            Some(v) => match cell_ref(v) {
                Some((r, c)) if r >= 1 => (r, c),
                _ => {
                    let shown = String::from_utf8_lossy(&v[..v.len().min(30)]).into_owned();
                    return Err(self.place.refuse(
                        &format!("の {}行目にあるセル番地「{shown}」が読めません", self.row),
                        "invalid cell reference",
                    ));
                }
            },
        };
        // The cell's name only for a message (not built for every cell).
        let name = || self.place.cell(r, c);
        if c >= u64::from(XLSX_MAX_COLS) || r > u64::from(XLSX_MAX_ROWS) {
            let name = name();
            return Err(self.place.refuse(
                &format!("のセル {name}（{sheet}!{name}）が Excel の範囲（XFD1048576 まで）の外にあります"),
                &format!("cell {sheet}!{name} beyond Excel's limits"),
            ));
        }
        if self.row >= 1 && r < self.row {
            let name = name();
            // Worded as the cell reader has always said it (operators may know it).
            let (file, row) = (self.place.file, self.row);
            return Err(anyhow!(
                "{file}: シート「{sheet}」のセル {name}（{sheet}!{name}）が {row}行目より後に置かれていて、\
                 行の並びが壊れています。Excel で開き直して保存し直してください。 \
                 (sheet is damaged: cell {sheet}!{name} comes after row {row})"
            ));
        }
        if self.row >= 1 && r != self.row {
            let name = name();
            return Err(self.place.refuse(
                &format!(
                    "のセル {name}（{sheet}!{name}）が {}行目の中に置かれていて、行の並びが壊れています",
                    self.row
                ),
                &format!("cell {sheet}!{name} inside row {}", self.row),
            ));
        }
        if let Some(last) = self.last_cell {
            if (r, c) <= last {
                let name = name();
                let what = if (r, c) == last {
                    format!("のセル {name}（{sheet}!{name}）が二度書かれています（どちらの値が正しいか決められません）")
                } else {
                    let prev = self.place.cell(last.0, last.1);
                    format!(
                        "のセル {name}（{sheet}!{name}）がセル {prev} の後に置かれていて、セルの並びが壊れています"
                    )
                };
                return Err(self.place.refuse(
                    &what,
                    &format!("cell {sheet}!{name} repeated or out of order"),
                ));
            }
        }
        self.last_cell = Some((r, c));
        self.next_col = c + 1;
        self.cell = Some((r, c));
        self.shared = t_attr == Some(b"s");
        self.in_v = false;
        self.text = 0;
        if tag.ends_with(b"/") {
            self.cell = None;
        }
        Ok(())
    }

    fn check_index(&self) -> Result<()> {
        let Some((r, c)) = self.cell else {
            return Ok(());
        };
        if self.v_len == 0 {
            return Ok(()); // calamine: an empty cell
        }
        let raw = &self.v[..self.v_len.min(self.v.len())];
        let index = if self.v_len <= self.v.len() {
            digits_u64(raw)
        } else {
            None
        };
        let (name, sheet) = (self.place.cell(r, c), self.place.sheet);
        let mut shown = String::from_utf8_lossy(raw).into_owned();
        if self.v_len > self.v.len() {
            shown.push('…');
        }
        match index {
            Some(i) if i < self.strings => Ok(()),
            Some(i) => Err(self.place.refuse(
                &format!(
                    "のセル {name}（{sheet}!{name}）が共有文字列の {i} 番を指していますが、\
                     共有文字列は {} 個しかありません",
                    self.strings
                ),
                &format!("shared string index {i} out of range at {sheet}!{name}"),
            )),
            None => Err(self.place.refuse(
                &format!(
                    "のセル {name}（{sheet}!{name}）の共有文字列の番号「{shown}」が正しくありません\
                     （0 以上の整数のはずです）"
                ),
                &format!("invalid shared string index at {sheet}!{name}"),
            )),
        }
    }
}

/// Checks an .ods `content.xml` as calamine's .ods reader will expand it at open.
pub(crate) struct OdsCheck<'a> {
    file: &'a str,
    max_rows: u64,
    max_cols: u64,
    sheet: String,
    /// Expanded rows so far in this table (capped like calamine, at 1,048,576).
    rows: u64,
    row_repeat: u64,
    /// Expanded column of the next cell in this row.
    col: u64,
    /// Columns calamine keeps for this row (up to its last cell with content).
    row_width: u64,
    /// Current cell: its first column, repeat, and whether it has content.
    cell: Option<(u64, u64, bool)>,
    cell_text: u64,
    /// First and end (exclusive) expanded row with content, widest row, in this table.
    data_rows: Option<(u64, u64)>,
    width: u64,
    /// Cells and text calamine builds, all tables so far.
    cells: u64,
    text: u64,
}

impl<'a> OdsCheck<'a> {
    pub(crate) fn new(file: &'a str, max_rows: u32, max_cols: usize) -> Self {
        OdsCheck {
            file,
            max_rows: u64::from(max_rows),
            max_cols: u64::try_from(max_cols).unwrap_or(u64::MAX),
            sheet: String::new(),
            rows: 0,
            row_repeat: 1,
            col: 0,
            row_width: 0,
            cell: None,
            cell_text: 0,
            data_rows: None,
            width: 0,
            cells: 0,
            text: 0,
        }
    }

    pub(crate) fn run(mut self, r: impl Read) -> Result<()> {
        let file = self.file;
        let sheet = std::cell::RefCell::new(String::new());
        let row = std::cell::Cell::new(0u64);
        scan(
            r,
            |ev| {
                let flow = self.on(ev);
                if sheet.borrow().as_str() != self.sheet {
                    sheet.replace(self.sheet.clone());
                }
                row.set(self.rows + 1);
                flow
            },
            |l| {
                let s = sheet.borrow();
                Place { file, sheet: &s }.limit(l, row.get())
            },
        )
    }

    fn place(&self) -> Place<'_> {
        Place {
            file: self.file,
            sheet: &self.sheet,
        }
    }

    fn repeat(tag: &[u8], key: &[u8]) -> u64 {
        // An unreadable count: calamine reports it as an error of its own.
        attr(tag, key, false)
            .and_then(digits_u64)
            .unwrap_or(1)
            .max(1)
    }

    fn on(&mut self, ev: Ev<'_>) -> Result<Flow> {
        match ev {
            Ev::Start {
                name,
                tag,
                self_closing,
            } => match name {
                b"table:table" => {
                    self.sheet = attr(tag, b"table:name", false)
                        .map(unescape)
                        .unwrap_or_default();
                    self.rows = 0;
                    self.data_rows = None;
                    self.width = 0;
                }
                b"table:table-row" => {
                    self.row_repeat = Self::repeat(tag, b"table:number-rows-repeated")
                        .min(u64::from(XLSX_MAX_ROWS) - self.rows.min(u64::from(XLSX_MAX_ROWS)));
                    self.col = 0;
                    self.row_width = 0;
                }
                b"table:table-cell" | b"table:covered-table-cell" => {
                    let repeat = Self::repeat(tag, b"table:number-columns-repeated");
                    let content = !self_closing
                        || [
                            &b"office:value"[..],
                            b"office:string-value",
                            b"office:date-value",
                            b"office:time-value",
                            b"office:boolean-value",
                            b"table:formula",
                        ]
                        .iter()
                        .any(|k| attr(tag, k, false).is_some());
                    self.cell = Some((self.col, repeat, content));
                    self.cell_text = 0;
                }
                _ => {}
            },
            Ev::End { name } => match name {
                b"table:table-cell" | b"table:covered-table-cell" => self.end_cell()?,
                b"table:table-row" => self.end_row()?,
                b"table:table" => self.end_table()?,
                _ => {}
            },
            Ev::Text(t) => {
                if self.cell.is_some() {
                    self.cell_text += t.len() as u64;
                    if self.cell_text > MAX_CELL_TEXT_BYTES {
                        let (r, c) = (self.rows + 1, self.col);
                        let name = self.place().cell(r, c);
                        let sheet = self.sheet.clone();
                        return Err(self.place().refuse(
                            &format!(
                                "のセル {name}（{sheet}!{name}）の文字が長すぎます（1 セル {} KiB まで）",
                                MAX_CELL_TEXT_BYTES / 1024
                            ),
                            &format!("cell {sheet}!{name} holds too much text"),
                        ));
                    }
                }
            }
        }
        Ok(Flow::Go)
    }

    fn end_cell(&mut self) -> Result<()> {
        let Some((start, repeat, content)) = self.cell.take() else {
            return Ok(());
        };
        let cols = u64::from(XLSX_MAX_COLS);
        let span = repeat.min(cols.saturating_sub(start));
        if content && span > 0 {
            if start + span > self.max_cols || self.rows + 1 > self.max_rows {
                // The first cell of the run outside the limits, as the reader will name it.
                let col = start.max(self.max_cols.min(start + span - 1));
                let row = self.rows + 1;
                let (file, sheet) = (self.file, self.sheet.clone());
                let name = self.place().cell(row, col);
                let (max_rows, max_cols) = (self.max_rows, self.max_cols);
                return Err(anyhow!(
                    "{file}: シート「{sheet}」のセル {name}（{sheet}!{name}）にデータがあり、\
                     読み込む範囲（{max_cols} 列 × {max_rows} 行）から大きく外れています。\
                     そのセルを削除するか、必要なデータだけを新しいシートにコピーしてから、\
                     もう一度実行してください。 \
                     (sheet has data far outside the expected area: {sheet}!{name})"
                ));
            }
            self.row_width = start + span;
            self.text = self.text.saturating_add(
                self.cell_text
                    .saturating_mul(span)
                    .saturating_mul(self.row_repeat),
            );
            if self.text > MAX_ODS_TEXT_BYTES {
                return Err(self.too_big());
            }
        }
        self.col = start.saturating_add(repeat);
        Ok(())
    }

    fn end_row(&mut self) -> Result<()> {
        if self.row_width > 0 {
            let end = self.rows + self.row_repeat;
            let first = self.data_rows.map_or(self.rows, |(f, _)| f);
            self.data_rows = Some((first, end));
            self.width = self.width.max(self.row_width);
            self.cells = self.cells.saturating_add(self.row_width);
            if self.grid() > MAX_ODS_CELLS {
                return Err(self.too_big());
            }
        }
        self.rows = (self.rows + self.row_repeat).min(u64::from(XLSX_MAX_ROWS));
        self.row_repeat = 1;
        Ok(())
    }

    /// Cells of all finished tables plus this table's grid so far.
    fn grid(&self) -> u64 {
        let (first, end) = self.data_rows.unwrap_or((0, 0));
        self.cells
            .saturating_add((end - first).saturating_mul(self.width))
    }

    fn end_table(&mut self) -> Result<()> {
        self.cells = self.grid();
        self.data_rows = None;
        self.width = 0;
        if self.cells > MAX_ODS_CELLS {
            return Err(self.too_big());
        }
        Ok(())
    }

    fn too_big(&self) -> anyhow::Error {
        let (file, sheet) = (self.file, &self.sheet);
        anyhow!(
            "{file}: シート「{sheet}」の {}行目付近までで、ブックを展開すると上限（{} 万セル、文字 {} MiB）を\
             超えます（同じ値の繰り返し指定が大きすぎます）。\
             必要な範囲だけを新しいブックにコピーし、「Excel ブック (*.xlsx)」として保存してから\
             取り込んでください。 (.ods too large when expanded)",
            self.rows + 1,
            MAX_ODS_CELLS / 10_000,
            MAX_ODS_TEXT_BYTES / 1024 / 1024
        )
    }
}

/// One `<sheet>` of `workbook.xml` or `Relationship` of a `.rels` part.
pub(crate) fn collect_tags(
    r: impl Read,
    wanted: &[u8],
    keys: &[&[u8]],
) -> Result<Vec<Vec<Option<String>>>> {
    let mut out = Vec::new();
    scan(
        r,
        |ev| {
            if let Ev::Start { name, tag, .. } = ev {
                if local(name) == wanted {
                    out.push(
                        keys.iter()
                            .map(|k| attr(tag, k, true).map(unescape))
                            .collect(),
                    );
                }
            }
            Ok(Flow::Go)
        },
        |_| anyhow!("part too large"),
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(xml: &[u8], piece: usize) -> Vec<String> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(self.1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out: Vec<String> = Vec::new();
        scan(
            Trickle(xml, piece),
            |ev| {
                match ev {
                    Ev::Start {
                        name,
                        tag,
                        self_closing,
                    } => out.push(format!(
                        "<{}{} r={:?}",
                        String::from_utf8_lossy(name),
                        if self_closing { "/" } else { "" },
                        attr(tag, b"r", false).map(|v| String::from_utf8_lossy(v).into_owned())
                    )),
                    Ev::End { name } => out.push(format!("</{}", String::from_utf8_lossy(name))),
                    Ev::Text(t) => {
                        let t = String::from_utf8_lossy(t).into_owned();
                        match out.last_mut() {
                            Some(last) if last.starts_with('#') => last.push_str(&t),
                            _ => out.push(format!("#{t}")),
                        }
                    }
                }
                Ok(Flow::Go)
            },
            |_| anyhow!("limit"),
        )
        .unwrap();
        out
    }

    #[test]
    fn tokenizer_is_the_same_whatever_the_pieces() {
        let xml = br#"<?xml version="1.0"?><!-- a > b --><x:row r="2" a='>'><c r="A2" t="s"><v>12</v></c><c/><![CDATA[<z>]]></x:row>"#;
        let whole = events(xml, 1 << 20);
        assert_eq!(
            whole,
            vec![
                "<x:row r=Some(\"2\")",
                "<c r=Some(\"A2\")",
                "<v r=None",
                "#12",
                "</v",
                "</c",
                "<c/ r=None",
                "</c",
                "#<z>",
                "</x:row",
            ]
        );
        for piece in [1, 2, 3, 7] {
            assert_eq!(events(xml, piece), whole, "{piece}");
        }
    }

    #[test]
    fn long_tags_and_text_past_the_short_scan() {
        // Quotes, '>' inside them and '<' beyond the first SHORT bytes: found by memchr.
        let pad = "x".repeat(3 * SHORT);
        let xml =
            format!(r#"<row r="2" a="{pad}>" b='{pad}"'><c r="A2"><v>{pad}</v></c>{pad}</row>"#);
        let whole = events(xml.as_bytes(), 1 << 20);
        assert_eq!(
            whole,
            vec![
                "<row r=Some(\"2\")".to_string(),
                "<c r=Some(\"A2\")".to_string(),
                "<v r=None".to_string(),
                format!("#{pad}"),
                "</v".to_string(),
                "</c".to_string(),
                format!("#{pad}"),
                "</row".to_string(),
            ]
        );
        for piece in [1, 5, SHORT + 3] {
            assert_eq!(events(xml.as_bytes(), piece), whole, "{piece}");
        }
        let tag = format!(r#"c s="{pad}" r="B7" t="s""#);
        assert_eq!(
            attr2(tag.as_bytes(), b"r", b"t"),
            (Some(&b"B7"[..]), Some(&b"s"[..]))
        );
        assert_eq!(attr2(b"c t=s r=\"B7\"", b"r", b"t"), (None, None));
    }

    #[test]
    fn attributes_and_entities() {
        let tag = br#"sheet name="A&amp;B &#x41;&#66;" sheetId="1" r:id="rId3""#;
        assert_eq!(attr(tag, b"name", false).map(unescape).unwrap(), "A&B AB");
        assert_eq!(attr(tag, b"id", true), Some(&b"rId3"[..]));
        assert_eq!(attr(tag, b"id", false), None);
        assert_eq!(cell_ref(b"XFD1048576"), Some((1_048_576, 16_383)));
        assert_eq!(cell_ref(b"A0"), Some((0, 0)));
        assert_eq!(cell_ref(b"1A"), None);
    }
}

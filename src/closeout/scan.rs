//! The remnant scan: after erasure, look for the participants' identifiers, names and
//! phone numbers in every file left where the data lived, byte for byte, in the
//! encodings a copy would have (UTF-8, CP932 as Excel saves CSV, UTF-16 as Windows and
//! `.xls` store text), and inside zip containers (`.xlsx`, `.ods`, `.zip`), whose
//! compressed content a plain byte search would miss. Any hit stops the certificate.
//!
//! The values searched for are gathered before erasure and held in memory only; the
//! report names where a value was found, its kind and the participant's number, never
//! the value itself.

use anyhow::Result;
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Values shorter than this many bytes (UTF-8) are not searched: two digits or one
/// kanji occur by chance in any file, and a false alarm would block every certificate.
pub const MIN_VALUE_BYTES: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Id,
    Name,
    Kana,
    Phone,
    Email,
    Address,
    Birth,
}

impl Kind {
    pub fn as_ja(self) -> &'static str {
        match self {
            Kind::Id => "参加者番号",
            Kind::Name => "氏名",
            Kind::Kana => "フリガナ",
            Kind::Phone => "電話番号",
            Kind::Email => "メールアドレス",
            Kind::Address => "住所",
            Kind::Birth => "生年月日",
        }
    }
    pub const ALL: [Kind; 7] = [
        Kind::Id,
        Kind::Name,
        Kind::Kana,
        Kind::Phone,
        Kind::Email,
        Kind::Address,
        Kind::Birth,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Enc {
    Utf8,
    Cp932,
    Utf16Le,
    Utf16Be,
}

impl Enc {
    pub fn name(self) -> &'static str {
        match self {
            Enc::Utf8 => "UTF-8",
            Enc::Cp932 => "CP932",
            Enc::Utf16Le => "UTF-16LE",
            Enc::Utf16Be => "UTF-16BE",
        }
    }
    pub const ALL: [Enc; 4] = [Enc::Utf8, Enc::Cp932, Enc::Utf16Le, Enc::Utf16Be];
}

/// One personal value to look for: whose it is and what kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    pub participant: String,
    pub kind: Kind,
    pub text: String,
}

/// The values of one participant record (as stored, or as read back from the package).
pub fn sources_of(
    id: &str,
    name: Option<&str>,
    kana: Option<&str>,
    phone: Option<&str>,
    email: Option<&str>,
    out: &mut BTreeSet<Source>,
) {
    let id = id.trim();
    if id.is_empty() {
        return;
    }
    let mut push = |kind: Kind, v: Option<&str>| {
        if let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) {
            out.insert(Source {
                participant: id.to_string(),
                kind,
                text: v.to_string(),
            });
        }
    };
    push(Kind::Id, Some(id));
    push(Kind::Name, name);
    push(Kind::Kana, kana);
    push(Kind::Phone, phone);
    push(Kind::Email, email);
}

/// A participant's address (with the second line and postal code, which a copy may
/// hold joined to it) and birth date, to look for as well.
pub fn places_of(
    id: &str,
    postal: Option<&str>,
    address: Option<&str>,
    address2: Option<&str>,
    birth: Option<&str>,
    out: &mut BTreeSet<Source>,
) {
    let id = id.trim();
    if id.is_empty() {
        return;
    }
    fn clean(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let mut push = |kind: Kind, text: String| {
        out.insert(Source {
            participant: id.to_string(),
            kind,
            text,
        });
    };
    if let Some(a) = clean(address) {
        push(Kind::Address, a.to_string());
        if let Some(a2) = clean(address2) {
            push(Kind::Address, format!("{a}{a2}"));
        }
        if let Some(p) = clean(postal) {
            // A postal code with its address (as labels and carrier files print them).
            push(Kind::Address, format!("〒{p} {a}"));
        }
    }
    if let Some(b) = clean(birth) {
        push(Kind::Birth, b.to_string());
    }
}

/// Full-width katakana as half-width (ﾔﾏﾀﾞ ﾀﾛｳ), as old systems and carrier files write
/// kana; other characters unchanged.
pub fn half_width_kana(s: &str) -> String {
    const BASE: &str = "ァアィイゥウェエォオカキクケコサシスセソタチッツテトナニヌネノハヒフヘホマミムメモャヤュユョヨラリルレロワヲンー・「」、。";
    const HALF: &str = "ｧｱｨｲｩｳｪｴｫｵｶｷｸｹｺｻｼｽｾｿﾀﾁｯﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓｬﾔｭﾕｮﾖﾗﾘﾙﾚﾛﾜｦﾝｰ･｢｣､｡";
    const VOICED: &str = "ガギグゲゴザジズゼゾダヂヅデドバビブベボ";
    const VOICED_BASE: &str = "カキクケコサシスセソタチツテトハヒフヘホ";
    const SEMI: &str = "パピプペポ";
    const SEMI_BASE: &str = "ハヒフヘホ";
    let half = |c: char| -> Option<char> {
        BASE.chars()
            .position(|b| b == c)
            .and_then(|i| HALF.chars().nth(i))
    };
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if let Some(i) = VOICED.chars().position(|v| v == c) {
            if let Some(h) = VOICED_BASE.chars().nth(i).and_then(half) {
                out.push(h);
                out.push('ﾞ');
                continue;
            }
        }
        if let Some(i) = SEMI.chars().position(|v| v == c) {
            if let Some(h) = SEMI_BASE.chars().nth(i).and_then(half) {
                out.push(h);
                out.push('ﾟ');
                continue;
            }
        }
        if c == 'ヴ' {
            out.push_str("ｳﾞ");
            continue;
        }
        match half(c) {
            Some(h) => out.push(h),
            None if c == '\u{3000}' => out.push(' '),
            None => out.push(c),
        }
    }
    out
}

/// A birth date (`YYYY-MM-DD` as stored) in the forms people and spreadsheets write it.
fn date_forms(text: &str) -> Vec<String> {
    let Ok(d) = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") else {
        return Vec::new();
    };
    use chrono::Datelike;
    let (y, m, day) = (d.year(), d.month(), d.day());
    vec![
        format!("{y}-{m:02}-{day:02}"),
        format!("{y}/{m:02}/{day:02}"),
        format!("{y}/{m}/{day}"),
        format!("{y}.{m:02}.{day:02}"),
        format!("{y}年{m}月{day}日"),
        format!("{y}年{m:02}月{day:02}日"),
        format!("{y}{m:02}{day:02}"),
        crate::sheet::date::wareki(d),
    ]
}

/// `1丁目2番3号` / `27番地8` as hyphens (`1-2-3`, `27-8`): 丁目, 番地, 番 and の
/// between digits become `-`, and 号 after a digit is dropped.
fn house_number_hyphens(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let after_digit = out.chars().last().is_some_and(|c| c.is_ascii_digit());
        let sep = ["丁目", "番地", "番", "の", "号"]
            .into_iter()
            .find(|m| after_digit && rest.starts_with(m));
        if let Some(m) = sep {
            rest = &rest[m.len()..];
            let next_digit = rest.chars().next().is_some_and(|c| c.is_ascii_digit());
            if next_digit && m != "号" {
                out.push('-');
            } else if m != "号" && m != "の" {
                out.push_str(m);
            }
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The spellings a copy of a value may have: names with the space between family and
/// given name as stored, full-width, or none; phone numbers with or without hyphens;
/// e-mail addresses in lower case.
fn variants(kind: Kind, text: &str) -> Vec<String> {
    let mut v = vec![text.to_string()];
    match kind {
        Kind::Name | Kind::Kana => {
            let parts: Vec<&str> = text
                .split(|c: char| c.is_whitespace())
                .filter(|p| !p.is_empty())
                .collect();
            if parts.len() > 1 {
                v.push(parts.concat());
                v.push(parts.join(" "));
                v.push(parts.join("\u{3000}"));
            }
            if kind == Kind::Kana {
                let more: Vec<String> = v.iter().map(|s| half_width_kana(s)).collect();
                v.extend(more);
            }
        }
        Kind::Address => {
            use unicode_normalization::UnicodeNormalization;
            let nfkc: String = text.nfkc().collect();
            let squashed: String = nfkc.chars().filter(|c| !c.is_whitespace()).collect();
            // As keyed in Excel: full-width digits and hyphens.
            let wide: String = squashed
                .chars()
                .map(|c| match c {
                    '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
                    c => c,
                })
                .collect();
            // The house number as a copy often writes it: 27番8号 → 27-8.
            let (h1, h2) = (house_number_hyphens(&nfkc), house_number_hyphens(&squashed));
            v.push(nfkc);
            v.push(squashed);
            v.push(wide);
            v.push(h1);
            v.push(h2);
        }
        Kind::Birth => v.extend(date_forms(text)),
        Kind::Phone => {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            v.push(digits);
        }
        Kind::Email => v.push(text.to_lowercase()),
        Kind::Id => {}
    }
    let mut seen = BTreeSet::new();
    v.retain(|s| s.len() >= MIN_VALUE_BYTES && seen.insert(s.clone()));
    v
}

fn encode(text: &str, enc: Enc) -> Option<Vec<u8>> {
    match enc {
        Enc::Utf8 => Some(text.as_bytes().to_vec()),
        Enc::Cp932 => {
            let (b, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
            (!bad).then(|| b.into_owned())
        }
        Enc::Utf16Le => Some(text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        Enc::Utf16Be => Some(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
    }
}

/// One byte pattern and the values it stands for, as seen through `Needles::pattern`:
/// the needles keep their patterns in flat arrays (bytes in one arena, a word of owner
/// and a byte of kind, encoding and boundary each), not as a struct with heap blocks.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    start: usize,
    len: usize,
    pub kind: Kind,
    pub enc: Enc,
    /// An ASCII value (a number, a phone, an address) only counts where it stands
    /// alone, not inside a longer run of letters and digits: participant `000123` is
    /// not in the hash `…a000123f…`, but is in `000123,` or `<t>000123</t>`.
    pub bounded: bool,
    index: u32,
}

impl Pattern {
    /// Bytes per character unit for the boundary check.
    fn unit(&self) -> usize {
        match self.enc {
            Enc::Utf16Le | Enc::Utf16Be => 2,
            Enc::Utf8 | Enc::Cp932 => 1,
        }
    }

    /// Whether the `unit` bytes at `b` are an ASCII letter or digit in this encoding.
    fn alnum(&self, b: &[u8]) -> bool {
        let c = match (self.enc, b) {
            (Enc::Utf8 | Enc::Cp932, [c]) => *c,
            (Enc::Utf16Le, [c, 0]) => *c,
            (Enc::Utf16Be, [0, c]) => *c,
            _ => return false,
        };
        c.is_ascii_alphanumeric()
    }

    /// The same for a UTF-16 unit cut off by the start (`before`) or the end of the
    /// file, of which only one byte is there: the low byte decides.
    fn alnum_partial(&self, b: u8, before: bool) -> bool {
        match self.enc {
            Enc::Utf16Be if before => b.is_ascii_alphanumeric(),
            Enc::Utf16Le if !before => b.is_ascii_alphanumeric(),
            _ => false,
        }
    }
}

fn meta_of(kind: Kind, enc: Enc, bounded: bool) -> u8 {
    (kind as u8) | ((enc as u8) << 3) | (u8::from(bounded) << 5)
}

fn kind_of(meta: u8) -> Kind {
    Kind::ALL[(meta & 7) as usize]
}

fn enc_of(meta: u8) -> Enc {
    Enc::ALL[((meta >> 3) & 3) as usize]
}

/// An owner word with this bit set is an index into the shared owner runs.
const SHARED: u32 = 1 << 31;

/// One encoded spelling while the needles are built: where its bytes are in the arena,
/// whose value it is (an index into the participants) and what it is.
#[derive(Clone, Copy)]
struct Entry {
    start: u32,
    len: u32,
    participant: u32,
    meta: u8,
}

/// Every pattern, sorted by its bytes (each byte string once), so one pass over a file
/// finds them all: a 64K-bit filter on the first two bytes rejects most positions at
/// once, and the first four bytes give the run of patterns to compare. At 10⁵
/// participants there are millions of patterns (55 per participant): their bytes live
/// in one arena, their participant is an index into one list of numbers (or, for a
/// value two participants share, into a run of such indices), and their kind, encoding
/// and boundary rule fit in one byte.
#[derive(Debug, Clone, Default)]
pub struct Needles {
    arena: Vec<u8>,
    /// Pattern `i`'s bytes are `arena[starts[i]..starts[i] + lens[i]]` (the arena as
    /// built, a duplicate's bytes left in place rather than copied to a second arena).
    starts: Vec<u32>,
    lens: Vec<u32>,
    meta: Vec<u8>,
    /// A participant index, or `SHARED | k` for the `k`-th run of `shared`.
    owner: Vec<u32>,
    runs: Vec<u32>,
    shared: Vec<u32>,
    /// Participant numbers.
    ids: Vec<String>,
    /// The run of patterns starting with these four bytes.
    index: HashMap<u32, (u32, u32)>,
    filter: Vec<u64>,
    max_len: usize,
    pub values: u64,
    pub values_by_kind: Vec<(Kind, u64)>,
    pub skipped_short: u64,
    /// Participants' names equal to a designated handler's, not searched for.
    pub skipped_handler_names: u64,
}

impl Needles {
    pub fn build(sources: &BTreeSet<Source>) -> Needles {
        Needles::build_except(sources, &[])
    }

    /// How many byte patterns are searched for.
    pub fn pattern_count(&self) -> usize {
        self.meta.len()
    }

    /// Pattern `i`.
    pub fn pattern(&self, i: u32) -> Pattern {
        let k = i as usize;
        let start = self.starts[k] as usize;
        let m = self.meta[k];
        Pattern {
            start,
            len: self.lens[k] as usize,
            kind: kind_of(m),
            enc: enc_of(m),
            bounded: m & (1 << 5) != 0,
            index: i,
        }
    }

    /// A pattern's bytes.
    pub fn bytes(&self, p: &Pattern) -> &[u8] {
        &self.arena[p.start..p.start + p.len]
    }

    /// The participants whose value a pattern is (two participants may share a name).
    pub fn participants(&self, p: &Pattern) -> Vec<String> {
        let o = self.owner[p.index as usize];
        let run: &[u32] = if o & SHARED == 0 {
            std::slice::from_ref(&self.owner[p.index as usize])
        } else {
            let k = (o & !SHARED) as usize;
            &self.shared[self.runs[k] as usize..self.runs[k + 1] as usize]
        };
        run.iter().map(|&i| self.ids[i as usize].clone()).collect()
    }

    /// As `build`, leaving out names that are also a designated handler's: the
    /// handler's name is on the certificate and in the state file by right, so a
    /// participant of the same name cannot be told apart there (the participant's
    /// number and phone are still searched for).
    pub fn build_except(sources: &BTreeSet<Source>, handler_names: &[String]) -> Needles {
        let squash = |t: &str| t.split_whitespace().collect::<String>();
        let handlers: BTreeSet<String> = handler_names.iter().map(|h| squash(h)).collect();
        let mut n = Needles {
            filter: vec![0u64; 1 << 10],
            ..Default::default()
        };
        let mut distinct: BTreeSet<(Kind, &str)> = BTreeSet::new();
        let mut short: BTreeSet<(Kind, &str)> = BTreeSet::new();
        let mut same: BTreeSet<&str> = BTreeSet::new();
        // Every encoded spelling in order, its bytes appended to the arena.
        let mut arena: Vec<u8> = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        let offset = |len: usize| u32::try_from(len).expect("remnant-scan patterns beyond 4 GiB");
        for s in sources {
            if s.kind == Kind::Name && handlers.contains(&squash(&s.text)) {
                same.insert(&s.text);
                continue;
            }
            let vs = variants(s.kind, &s.text);
            if vs.is_empty() {
                short.insert((s.kind, &s.text));
                continue;
            }
            distinct.insert((s.kind, &s.text));
            // Sources are sorted by participant: each number is interned once.
            if n.ids.last() != Some(&s.participant) {
                n.ids.push(s.participant.clone());
            }
            let participant = (n.ids.len() - 1) as u32;
            for v in vs {
                for enc in Enc::ALL {
                    let Some(bytes) = encode(&v, enc) else {
                        continue;
                    };
                    if bytes.len() < MIN_VALUE_BYTES {
                        continue;
                    }
                    entries.push(Entry {
                        start: offset(arena.len()),
                        len: bytes.len() as u32,
                        participant,
                        meta: meta_of(s.kind, enc, v.is_ascii()),
                    });
                    arena.extend_from_slice(&bytes);
                }
            }
        }
        // Equal bytes together, in the order they came (the arena grows in that order):
        // the first gives the kind and encoding, all give their participants (in order).
        let bytes_of = |e: &Entry| &arena[e.start as usize..(e.start + e.len) as usize];
        entries.sort_unstable_by(|a, b| bytes_of(a).cmp(bytes_of(b)).then(a.start.cmp(&b.start)));
        let mut owners: Vec<u32> = Vec::new();
        n.runs.push(0);
        let mut i = 0;
        while i < entries.len() {
            let first = entries[i];
            let bytes = bytes_of(&first);
            owners.clear();
            let mut j = i;
            while j < entries.len() && bytes_of(&entries[j]) == bytes {
                let who = entries[j].participant;
                if !owners.contains(&who) {
                    owners.push(who);
                }
                j += 1;
            }
            n.starts.push(first.start);
            n.lens.push(first.len);
            n.meta.push(first.meta);
            if let [one] = owners[..] {
                n.owner.push(one);
            } else {
                n.owner.push(SHARED | (n.runs.len() as u32 - 1));
                n.shared.extend_from_slice(&owners);
                n.runs.push(n.shared.len() as u32);
            }
            i = j;
        }
        drop(entries);
        arena.shrink_to_fit();
        n.arena = arena;
        n.starts.shrink_to_fit();
        n.lens.shrink_to_fit();
        n.meta.shrink_to_fit();
        n.owner.shrink_to_fit();
        n.ids.shrink_to_fit();
        for i in 0..n.meta.len() {
            let start = n.starts[i] as usize;
            let b = &n.arena[start..start + n.lens[i] as usize];
            let key = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let run = n.index.entry(key).or_insert((i as u32, i as u32));
            run.1 = i as u32 + 1;
            let f = u16::from_le_bytes([b[0], b[1]]) as usize;
            n.filter[f >> 6] |= 1 << (f & 63);
            n.max_len = n.max_len.max(b.len());
        }
        n.index.shrink_to_fit();
        n.values = distinct.len() as u64;
        n.skipped_short = short.len() as u64;
        n.skipped_handler_names = same.len() as u64;
        n.values_by_kind = Kind::ALL
            .iter()
            .map(|k| (*k, distinct.iter().filter(|(kk, _)| kk == k).count() as u64))
            .filter(|(_, c)| *c > 0)
            .collect();
        n
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Every match starting in `hay[from..to]`. `hay` holds the two bytes before `from`
    /// (unless `from` is the start of the file) and, unless at the end of the file,
    /// enough after `to` for the longest pattern and the character after it.
    fn find(&self, hay: &[u8], from: usize, to: usize, out: &mut Vec<(usize, u32)>) {
        let to = to.min(hay.len().saturating_sub(3));
        for p in from..to {
            let f = u16::from_le_bytes([hay[p], hay[p + 1]]) as usize;
            if self.filter[f >> 6] & (1 << (f & 63)) == 0 {
                continue;
            }
            let key = u32::from_le_bytes([hay[p], hay[p + 1], hay[p + 2], hay[p + 3]]);
            let Some(&(lo, hi)) = self.index.get(&key) else {
                continue;
            };
            for i in lo..hi {
                let pat = &self.pattern(i);
                if !hay[p..].starts_with(self.bytes(pat)) {
                    continue;
                }
                if pat.bounded {
                    let u = pat.unit();
                    let end = p + pat.len;
                    let before = if p >= u {
                        pat.alnum(&hay[p - u..p])
                    } else {
                        p > 0 && pat.alnum_partial(hay[p - 1], true)
                    };
                    let after = if end + u <= hay.len() {
                        pat.alnum(&hay[end..end + u])
                    } else {
                        end < hay.len() && pat.alnum_partial(hay[end], false)
                    };
                    if before || after {
                        continue;
                    }
                }
                out.push((p, i));
            }
        }
    }

    /// Search a stream in chunks. Each start position is searched once, with the
    /// longest pattern's length and one more character of look-ahead (carried over to
    /// the next chunk when the chunk ends first) and two bytes of look-behind. Returns
    /// the bytes read.
    pub fn scan_reader<R: Read>(
        &self,
        mut r: R,
        hits: &mut Vec<(u64, u32)>,
    ) -> std::io::Result<u64> {
        const CHUNK: usize = 1 << 20;
        let look = self.max_len + 2;
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + look + 2);
        let mut base = 0u64; // file offset of buf[0]
        let mut from = 0usize; // first position not yet searched
        let mut total = 0u64;
        let mut found = Vec::new();
        loop {
            let tail = buf.len();
            buf.resize(tail + CHUNK, 0);
            let k = read_full(&mut r, &mut buf[tail..])?;
            buf.truncate(tail + k);
            total += k as u64;
            let eof = k == 0;
            let to = if eof {
                buf.len()
            } else {
                buf.len().saturating_sub(look)
            };
            if to > from {
                found.clear();
                self.find(&buf, from, to, &mut found);
                hits.extend(found.iter().map(|&(p, i)| (base + p as u64, i)));
                from = to;
            }
            if eof {
                break;
            }
            // Keep two bytes before the next position to search, for the boundary.
            let cut = from.saturating_sub(2);
            if cut > 0 {
                buf.drain(..cut);
                base += cut as u64;
                from -= cut;
            }
        }
        Ok(total)
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A value found where it should not be.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The file, and for a zip container the entry inside it (`file!entry`).
    pub place: String,
    pub offset: u64,
    pub kind: Kind,
    pub enc: Enc,
    pub participants: Vec<String>,
}

/// What a scan covered and found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub places: Vec<String>,
    pub excluded: Vec<String>,
    pub files: u64,
    pub bytes: u64,
    pub zip_entries: u64,
    pub hits: Vec<Hit>,
    /// Files that could not be read (permission, an encrypted zip entry): not proven
    /// clean, so they stop the certificate like a hit.
    pub unreadable: Vec<(String, String)>,
}

/// At most this many hits are kept per file (the count of files is what matters).
const MAX_HITS_PER_FILE: usize = 20;
/// Zip containers inside zip containers are opened this deep.
const MAX_ZIP_DEPTH: u32 = 3;
/// A zip entry is read into memory to open it as a zip only up to this size.
const MAX_NESTED_ZIP: u64 = 512 << 20;

pub struct Scanner<'a> {
    pub needles: &'a Needles,
    /// Files and folders not to look in (the return folder, the package, …), absolute.
    pub exclude: Vec<PathBuf>,
    pub report: Report,
    seen: BTreeSet<PathBuf>,
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

impl<'a> Scanner<'a> {
    pub fn new(needles: &'a Needles, exclude: &[PathBuf]) -> Scanner<'a> {
        let exclude: Vec<PathBuf> = exclude.iter().map(|p| canon(p)).collect();
        Scanner {
            needles,
            report: Report {
                excluded: exclude.iter().map(|p| p.display().to_string()).collect(),
                ..Default::default()
            },
            exclude,
            seen: BTreeSet::new(),
        }
    }

    fn excluded(&self, p: &Path) -> bool {
        self.exclude.iter().any(|e| p.starts_with(e))
    }

    /// Scan a folder: its files, and its subfolders when `recursive`. Symbolic links
    /// are not followed (what they point to is elsewhere).
    pub fn folder(&mut self, dir: &Path, recursive: bool) {
        let dir = canon(dir);
        self.report.places.push(format!(
            "{}{}",
            dir.display(),
            if recursive {
                "（サブフォルダを含む）"
            } else {
                ""
            }
        ));
        self.walk(&dir, recursive);
    }

    fn walk(&mut self, dir: &Path, recursive: bool) {
        if self.excluded(dir) {
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.report
                    .unreadable
                    .push((dir.display().to_string(), e.to_string()));
                return;
            }
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if self.excluded(&p) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            if meta.is_dir() {
                if recursive {
                    self.walk(&p, true);
                }
            } else if meta.is_file() {
                self.file(&p);
            }
        }
    }

    /// Scan one file (and, if it is a zip container, what is inside it).
    pub fn file(&mut self, path: &Path) {
        let path = canon(path);
        if self.excluded(&path) || !self.seen.insert(path.clone()) {
            return;
        }
        let place = path.display().to_string();
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                self.report.unreadable.push((place, e.to_string()));
                return;
            }
        };
        let mut raw = Vec::new();
        let mut magic = [0u8; 4];
        match self
            .needles
            .scan_reader(std::io::BufReader::new(f), &mut raw)
        {
            Ok(n) => {
                self.report.files += 1;
                self.report.bytes += n;
            }
            Err(e) => {
                self.report.unreadable.push((place, e.to_string()));
                return;
            }
        }
        self.push_hits(&place, raw);
        if let Ok(mut f) = std::fs::File::open(&path) {
            if f.read_exact(&mut magic).is_ok() && magic == *b"PK\x03\x04" {
                if let Ok(ar) = zip::ZipArchive::new(std::io::BufReader::new(f)) {
                    self.zip(ar, &place, 1);
                }
            } else if magic[..2] == [0x1f, 0x8b] {
                // A gzip copy (`roster.csv.gz`): its content, decompressed.
                if let Ok(f) = std::fs::File::open(&path) {
                    let dec = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f));
                    self.inner(dec, &format!("{place}!gzip"));
                }
            } else if magic == *b"%PDF" {
                self.pdf(&path, &place);
            }
        }
    }

    /// Scan decompressed content found inside a file, as one more place.
    fn inner<R: Read>(&mut self, r: R, place: &str) {
        let mut raw = Vec::new();
        match self.needles.scan_reader(r, &mut raw) {
            Ok(n) => {
                self.report.zip_entries += 1;
                self.report.bytes += n;
            }
            Err(e) => {
                self.report
                    .unreadable
                    .push((place.to_string(), e.to_string()));
                return;
            }
        }
        self.push_hits(place, raw);
    }

    /// A PDF's Flate-compressed streams (where its text is), each decompressed and
    /// scanned. Files over 256 MiB are scanned as bytes only.
    fn pdf(&mut self, path: &Path, place: &str) {
        const MAX: u64 = 256 << 20;
        if std::fs::metadata(path).map_or(true, |m| m.len() > MAX) {
            return;
        }
        let Ok(bytes) = std::fs::read(path) else {
            return;
        };
        let mut at = 0usize;
        let mut n = 0u32;
        while let Some(k) = find_bytes(&bytes[at..], b"stream") {
            let mut start = at + k + 6;
            at = start;
            if bytes.get(start) == Some(&b'\r') {
                start += 1;
            }
            if bytes.get(start) != Some(&b'\n') {
                continue;
            }
            start += 1;
            let Some(len) = find_bytes(&bytes[start..], b"endstream") else {
                break;
            };
            let data = &bytes[start..start + len];
            at = start + len + 9;
            n += 1;
            let mut dec = flate2::read::ZlibDecoder::new(data);
            let mut out = Vec::new();
            if dec.read_to_end(&mut out).is_ok() || !out.is_empty() {
                self.inner(&out[..], &format!("{place}!stream{n}"));
            }
        }
    }

    fn push_hits(&mut self, place: &str, raw: Vec<(u64, u32)>) {
        for (offset, i) in raw.into_iter().take(MAX_HITS_PER_FILE) {
            let p = &self.needles.pattern(i);
            self.report.hits.push(Hit {
                place: place.to_string(),
                offset,
                kind: p.kind,
                enc: p.enc,
                participants: self.needles.participants(p),
            });
        }
    }

    fn zip<R: Read + std::io::Seek>(
        &mut self,
        mut ar: zip::ZipArchive<R>,
        place: &str,
        depth: u32,
    ) {
        for i in 0..ar.len() {
            let (name, encrypted, size) = match ar.by_index_raw(i) {
                Ok(e) => (
                    e.name()
                        .map(|n| n.to_string())
                        .unwrap_or_else(|_| format!("#{i}")),
                    e.encrypted(),
                    e.size(),
                ),
                Err(e) => {
                    self.report
                        .unreadable
                        .push((format!("{place}!#{i}"), e.to_string()));
                    continue;
                }
            };
            let inner = format!("{place}!{name}");
            if encrypted {
                self.report
                    .unreadable
                    .push((inner, "暗号化されたエントリ (encrypted entry)".into()));
                continue;
            }
            let mut raw = Vec::new();
            let mut head = Vec::new();
            let res = match ar.by_index(i) {
                Ok(e) => {
                    // Keep the entry in memory only when it may itself be a zip.
                    let mut tee = Tee {
                        inner: e,
                        head: &mut head,
                        keep: size <= MAX_NESTED_ZIP && depth < MAX_ZIP_DEPTH,
                    };
                    self.needles.scan_reader(&mut tee, &mut raw)
                }
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            match res {
                Ok(n) => {
                    self.report.zip_entries += 1;
                    self.report.bytes += n;
                }
                Err(e) => {
                    self.report.unreadable.push((inner, e.to_string()));
                    continue;
                }
            }
            self.push_hits(&inner, raw);
            if head.starts_with(b"PK\x03\x04") {
                if let Ok(nested) = zip::ZipArchive::new(std::io::Cursor::new(head)) {
                    self.zip(nested, &inner, depth + 1);
                }
            }
        }
    }
}

/// Passes bytes through while keeping a copy (for a zip entry that is itself a zip).
struct Tee<'b, R: Read> {
    inner: R,
    head: &'b mut Vec<u8>,
    keep: bool,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.keep {
            self.head.extend_from_slice(&buf[..n]);
            if self.head.len() >= 4 && !self.head.starts_with(b"PK\x03\x04") {
                // Not a zip: stop keeping a copy.
                self.keep = false;
                self.head.clear();
            }
        }
        Ok(n)
    }
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Hits grouped by place for the operator: place, count, kinds, participants (numbers).
pub fn describe(report: &Report) -> Vec<String> {
    let mut by_place: Vec<(String, Vec<&Hit>)> = Vec::new();
    for h in &report.hits {
        match by_place.iter_mut().find(|(p, _)| *p == h.place) {
            Some((_, v)) => v.push(h),
            None => by_place.push((h.place.clone(), vec![h])),
        }
    }
    let mut out = Vec::new();
    for (place, hits) in by_place {
        let kinds: BTreeSet<&str> = hits.iter().map(|h| h.kind.as_ja()).collect();
        let encs: BTreeSet<&str> = hits.iter().map(|h| h.enc.name()).collect();
        let mut people: Vec<&str> = hits
            .iter()
            .flat_map(|h| h.participants.iter().map(String::as_str))
            .collect();
        people.sort();
        people.dedup();
        let shown: Vec<&str> = people.iter().take(5).copied().collect();
        out.push(format!(
            "{place}: {} 件{}（{}、{}、参加者 {}{}、最初の位置 {} バイト目）",
            hits.len(),
            if hits.len() >= MAX_HITS_PER_FILE {
                "以上"
            } else {
                ""
            },
            kinds.into_iter().collect::<Vec<_>>().join("・"),
            encs.into_iter().collect::<Vec<_>>().join("・"),
            shown.join("、"),
            if people.len() > shown.len() {
                format!(" ほか {} 名", people.len() - shown.len())
            } else {
                String::new()
            },
            hits.first().map(|h| h.offset).unwrap_or(0)
        ));
    }
    for (place, why) in &report.unreadable {
        out.push(format!(
            "{place}: 読めないため確認できません: {why} (unreadable, not proven clean)"
        ));
    }
    out
}

/// A convenience for tests and the erasure check: scan one file's bytes.
pub fn hits_in_bytes(needles: &Needles, bytes: &[u8]) -> Result<usize> {
    let mut hits = Vec::new();
    needles.scan_reader(bytes, &mut hits)?;
    Ok(hits.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needles() -> Needles {
        let mut s = BTreeSet::new();
        sources_of(
            "C000001",
            Some("井上 恵子"),
            Some("イノウエ ケイコ"),
            Some("03-5306-6777"),
            None,
            &mut s,
        );
        sources_of(
            "C000002",
            Some("林"),
            None,
            None,
            Some("A@Example.jp"),
            &mut s,
        );
        Needles::build(&s)
    }

    #[test]
    fn finds_every_spelling_and_encoding() {
        let n = needles();
        assert_eq!(n.skipped_short, 1, "林 alone is too short to search");
        for text in [
            "x井上恵子x",
            "井上　恵子",
            "0353066777",
            "a@example.jp",
            "C000001",
        ] {
            for enc in Enc::ALL {
                let b = encode(text, enc).unwrap();
                let mut hay = vec![0u8; 7];
                hay.extend_from_slice(&b);
                hay.extend_from_slice(&[1, 2, 3]);
                assert!(hits_in_bytes(&n, &hay).unwrap() > 0, "{text} in {enc:?}");
            }
        }
        assert_eq!(
            hits_in_bytes(&n, "井上 恵 子 C00000 03-5306".as_bytes()).unwrap(),
            0
        );
    }

    #[test]
    fn a_number_inside_a_longer_run_is_not_a_hit() {
        let mut s = BTreeSet::new();
        sources_of("000123", Some("山田 花子"), None, None, None, &mut s);
        let n = Needles::build(&s);
        for (hay, found) in [
            ("ab000123cd", false),
            ("9000123", false),
            ("0001234", false),
            ("000123", true),
            ("x,000123,y", true),
            ("<t>000123</t>", true),
            ("山田000123番", true),
            ("a山田花子b", true),
        ] {
            // (In UTF-16 an ASCII run can also match the other byte order one byte
            // off; such a second hit is at the same place, so only presence counts.)
            let u16le: Vec<u8> = hay.encode_utf16().flat_map(u16::to_le_bytes).collect();
            let u16be: Vec<u8> = hay.encode_utf16().flat_map(u16::to_be_bytes).collect();
            for (enc, bytes) in [
                ("UTF-8", hay.as_bytes()),
                ("UTF-16LE", &u16le),
                ("UTF-16BE", &u16be),
            ] {
                assert_eq!(hits_in_bytes(&n, bytes).unwrap() > 0, found, "{hay} {enc}");
            }
        }
    }

    #[test]
    fn a_handlers_name_is_not_searched_for() {
        let mut s = BTreeSet::new();
        sources_of(
            "C000009",
            Some("山田 太郎"),
            None,
            Some("03-1234-5678"),
            None,
            &mut s,
        );
        let n = Needles::build_except(&s, &["山田　太郎".to_string()]);
        assert_eq!(n.skipped_handler_names, 1);
        assert_eq!(
            hits_in_bytes(&n, "取扱責任者 山田 太郎".as_bytes()).unwrap(),
            0
        );
        assert!(hits_in_bytes(&n, "C000009,03-1234-5678".as_bytes()).unwrap() > 0);
    }

    #[test]
    fn finds_across_chunk_boundaries() {
        let n = needles();
        let chunk = 1usize << 20;
        for at in (chunk - 12..chunk + 4).chain([2 * chunk - 40, 2 * chunk - 7]) {
            let mut hay = vec![b'.'; at];
            hay.extend_from_slice(b"C000001");
            hay.extend(vec![b'.'; 30]);
            let mut hits = Vec::new();
            n.scan_reader(&hay[..], &mut hits).unwrap();
            assert_eq!(
                hits.iter().map(|h| h.0).collect::<Vec<_>>(),
                [at as u64],
                "at {at}"
            );
            // The same value glued to a letter across the boundary is not a hit.
            hay[at - 1] = b'X';
            hits.clear();
            n.scan_reader(&hay[..], &mut hits).unwrap();
            assert!(hits.is_empty(), "at {at}");
        }
    }

    #[test]
    fn looks_inside_zip_containers() {
        use std::io::Write;
        let n = needles();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("book.xlsx");
        let mut zw = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        zw.start_file(
            "xl/sharedStrings.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zw.write_all("<si><t>".as_bytes()).unwrap();
        zw.write_all("井上 恵子".repeat(50).as_bytes()).unwrap();
        zw.finish().unwrap();
        assert_eq!(
            hits_in_bytes(&n, &std::fs::read(&p).unwrap()).unwrap(),
            0,
            "compressed: not visible as bytes"
        );
        let mut s = Scanner::new(&n, &[]);
        s.folder(dir.path(), true);
        assert!(s
            .report
            .hits
            .iter()
            .any(|h| h.place.ends_with("book.xlsx!xl/sharedStrings.xml")));
        let lines = describe(&s.report);
        assert!(
            !lines.join("\n").contains("井上"),
            "the report names no personal value"
        );
    }

    fn wider() -> Needles {
        let mut s = BTreeSet::new();
        sources_of("C000003", None, Some("ヤマダ タロウ"), None, None, &mut s);
        places_of(
            "C000003",
            Some("160-0022"),
            Some("東京都新宿区新宿7-8-9"),
            Some("ハイツ201"),
            Some("1955-03-07"),
            &mut s,
        );
        Needles::build(&s)
    }

    fn hits_in_files(n: &Needles, files: &[(&str, Vec<u8>)]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let mut s = Scanner::new(n, &[]);
        s.folder(dir.path(), true);
        s.report
            .hits
            .iter()
            .map(|h| {
                format!(
                    "{}:{}",
                    Path::new(&h.place).file_name().unwrap().to_string_lossy(),
                    h.kind.as_ja()
                )
            })
            .collect()
    }

    #[test]
    fn finds_half_width_kana_addresses_and_birth_dates() {
        assert_eq!(half_width_kana("ヤマダ タロウ"), "ﾔﾏﾀﾞ ﾀﾛｳ");
        assert_eq!(half_width_kana("パン・ヴ"), "ﾊﾟﾝ･ｳﾞ");
        let n = wider();
        for (text, kind) in [
            ("ﾔﾏﾀﾞ ﾀﾛｳ", "フリガナ"),
            ("ﾔﾏﾀﾞﾀﾛｳ", "フリガナ"),
            ("東京都新宿区新宿７－８－９", "住所"),
            ("〒160-0022 東京都新宿区新宿7-8-9", "住所"),
            ("昭和30年3月7日", "生年月日"),
            ("1955/3/7", "生年月日"),
            ("1955年03月07日", "生年月日"),
        ] {
            let hits = hits_in_files(&n, &[("a.txt", format!("x,{text},y").into_bytes())]);
            assert!(hits.iter().any(|h| h.ends_with(kind)), "{text}: {hits:?}");
        }
    }

    #[test]
    fn house_numbers_are_also_looked_for_with_hyphens() {
        assert_eq!(
            house_number_hyphens("早稲田鶴巻町27番8号"),
            "早稲田鶴巻町27-8"
        );
        assert_eq!(
            house_number_hyphens("西新宿2丁目8番1号 都庁"),
            "西新宿2-8-1 都庁"
        );
        assert_eq!(house_number_hyphens("本町3番地5"), "本町3-5");
        assert_eq!(house_number_hyphens("番町1番"), "番町1番");
    }

    #[test]
    fn looks_inside_gzip_and_pdf_flate_streams() {
        use std::io::Write;
        let n = wider();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all("id,kana\nC000003,ヤマダ タロウ\n".as_bytes())
            .unwrap();
        let gz = gz.finish().unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all("BT (東京都新宿区新宿7-8-9) Tj ET".as_bytes())
            .unwrap();
        let z = z.finish().unwrap();
        let mut pdf = b"%PDF-1.4\n1 0 obj << /Filter /FlateDecode >>\nstream\r\n".to_vec();
        pdf.extend_from_slice(&z);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        let hits = hits_in_files(&n, &[("roster.csv.gz", gz), ("doc.pdf", pdf)]);
        assert!(
            hits.iter().any(|h| h == "roster.csv.gz!gzip:フリガナ"),
            "{hits:?}"
        );
        assert!(hits.iter().any(|h| h == "doc.pdf!stream1:住所"), "{hits:?}");
    }
}

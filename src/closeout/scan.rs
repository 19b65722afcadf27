//! The remnant scan: after erasure, look for the participants' identifiers, names and
//! phone numbers in every file left where the data lived, byte for byte, in the
//! encodings a copy would have (UTF-8, CP932 as Excel saves CSV, UTF-16 as Windows and
//! `.xls` store text), and inside zip containers (`.xlsx`, `.ods`, `.zip`), whose
//! compressed content a plain byte search would miss. Any hit stops the certificate.
//!
//! A match of at least [`CIPHERTEXT_MIN_MATCH`] (8) bytes in its encoding is a hit
//! wherever it is. A shorter one (a two-kanji name is 4 bytes in CP932 and UTF-16) is a
//! hit only where it stands in text of its encoding ([`in_text`]): text on both sides
//! for [`CONTEXT_BYTES`] bytes (or to the file's edge), or a field in a line of text (a
//! CSV/TSV cell, an XML element, `氏名：…`). Random bytes hold a given 4-byte run about
//! once in 4 GiB, so at prefecture scale a photo, a video or another program's database
//! would otherwise match some short spelling by chance and stop every close-out; such a
//! chance match stands in text about once in 10^6 (CP932) and far more rarely in UTF-8
//! and UTF-16. The check runs only on a match, so the search's speed is unchanged.
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

thread_local! {
    /// Each BMP character's CP932 bytes as `encoding_rs` writes them, looked up once per
    /// character: its Shift_JIS encoder searches a table for every kanji, which was a
    /// fifth of a close-out's time with every spelling encoded at each batch. 0: not
    /// looked up yet; `u32::MAX`: not writable; else the length (high half) and bytes.
    static CP932_OF: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `text` in CP932 appended to `out`, byte for byte as `encoding_rs::SHIFT_JIS` writes
/// it (the encoding has no state, so character by character is the same); false when
/// a character cannot be written.
fn cp932_into(text: &str, out: &mut Vec<u8>) -> bool {
    CP932_OF.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_empty() {
            t.resize(1 << 16, 0);
        }
        for c in text.chars() {
            if c.is_ascii() {
                out.push(c as u8);
                continue;
            }
            let Some(e) = t.get_mut(c as usize) else {
                return false;
            };
            if *e == 0 {
                let mut buf = [0u8; 4];
                let (b, _, bad) = encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf));
                *e = match (bad, &b[..]) {
                    (false, [x]) => 1 << 16 | u32::from(*x),
                    (false, [x, y]) => 2 << 16 | u32::from(*x) << 8 | u32::from(*y),
                    _ => u32::MAX,
                };
            }
            match *e >> 16 {
                1 => out.push(*e as u8),
                2 => out.extend_from_slice(&(*e as u16).to_be_bytes()),
                _ => return false,
            }
        }
        true
    })
}

/// Room for `more` items at the end of `v`, growing it by a quarter rather than
/// doubling, so a batch's arrays hold at most a quarter more than they use.
fn room<T>(v: &mut Vec<T>, more: usize) {
    if v.len() + more > v.capacity() {
        v.reserve_exact((v.capacity() / 4).max(more).max(1 << 10));
    }
}

fn encode(text: &str, enc: Enc) -> Option<Vec<u8>> {
    match enc {
        Enc::Utf8 => Some(text.as_bytes().to_vec()),
        Enc::Cp932 => {
            let mut b = Vec::with_capacity(text.len());
            cp932_into(text, &mut b).then_some(b)
        }
        Enc::Utf16Le => Some(text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        Enc::Utf16Be => Some(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
    }
}

/// One byte pattern (a spelling in one encoding) and the values it stands for, as seen
/// through `Needles::pattern`.
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    /// The spelling's index.
    spelling: u32,
    /// Bytes of the pattern in its encoding.
    pub len: usize,
    pub kind: Kind,
    pub enc: Enc,
    /// An ASCII value (a number, a phone, an address) only counts where it stands
    /// alone, not inside a longer run of letters and digits: participant `000123` is
    /// not in the hash `…a000123f…`, but is in `000123,` or `<t>000123</t>`.
    pub bounded: bool,
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

/// A spelling's flags, one byte: its kind in the low three bits, then these.
const TEXT: u8 = 1 << 3;
const ASCII: u8 = 1 << 4;
/// CP932 can write it, in at least [`MIN_VALUE_BYTES`] bytes, unlike its UTF-8 bytes.
const CP932: u8 = 1 << 5;
/// Merged into an earlier spelling of the same bytes (not searched for itself).
const MERGED: u8 = 1 << 6;
/// Written in the program file itself (not searched for).
const IN_PROGRAM: u8 = 1 << 7;

fn kind_of(meta: u8) -> Kind {
    Kind::ALL[(meta & 7) as usize]
}

/// An owner word with this bit set is an index into the shared owner runs.
const SHARED: u32 = 1 << 31;

/// A set of 2^16 bits, one per pair of bytes.
#[derive(Debug, Clone)]
struct PairFilter(Vec<u64>);

impl Default for PairFilter {
    fn default() -> Self {
        PairFilter(vec![0u64; 1 << 10])
    }
}

impl PairFilter {
    fn set(&mut self, v: u16) {
        self.0[(v >> 6) as usize] |= 1 << (v & 63);
    }
    fn has(&self, v: u16) -> bool {
        self.0[(v >> 6) as usize] & (1 << (v & 63)) != 0
    }
}

/// Every spelling of every value, so one pass over a file finds them all in every
/// encoding. At 10⁵ participants there are millions of spellings: only their UTF-8
/// bytes are held (in one arena, each spelling once), with a word of owner and a byte
/// of kind each; the CP932 and UTF-16 forms are not stored but read through: where a
/// file's bytes could start a spelling in one of those encodings (a 2^16-bit filter on
/// its first two bytes), its next characters are decoded to UTF-8 and looked up among
/// the UTF-8 spellings, and a candidate is compared in that encoding, encoded on the
/// fly. The UTF-8 spellings are found by their first four bytes: a table of where the
/// spellings of each first two bytes start, and bytes three and four in order within.
#[derive(Debug, Clone, Default)]
pub struct Needles {
    /// Spelling `i`'s UTF-8 bytes are `arena[starts[i]..starts[i + 1]]`.
    arena: Vec<u8>,
    starts: Vec<u32>,
    meta: Vec<u8>,
    /// A participant index, or `SHARED | k` for the `k`-th run of `shared`.
    owner: Vec<u32>,
    runs: Vec<u32>,
    shared: Vec<u32>,
    /// Participant numbers.
    ids: Vec<String>,
    /// The live spellings sorted by their bytes; `by_pair[b]..by_pair[b + 1]` are those
    /// whose first two bytes are `b`, and `third[k]` is bytes three and four of `order[k]`.
    order: Vec<u32>,
    third: Vec<u16>,
    by_pair: Vec<u32>,
    /// First two bytes of the patterns in UTF-8, in UTF-16 (as a unit) and in CP932.
    utf8_pairs: PairFilter,
    utf16_units: PairFilter,
    cp932_pairs: PairFilter,
    patterns: usize,
    max_len: usize,
    pub values: u64,
    pub values_by_kind: Vec<(Kind, u64)>,
    pub skipped_short: u64,
    /// Participants' names equal to a designated handler's, not searched for.
    pub skipped_handler_names: u64,
}

/// Builds [`Needles`] from values given one at a time (as read from the database or the
/// package), holding only the spellings' bytes, never the values as strings.
pub struct NeedlesBuilder {
    n: Needles,
    handlers: BTreeSet<String>,
    index_of: HashMap<String, u32>,
    /// (participant, kind, value): counted per participant, as the values are.
    short: BTreeSet<(String, Kind, String)>,
    same: BTreeSet<(String, String)>,
    program: String,
}

fn squash(t: &str) -> String {
    t.split_whitespace().collect()
}

fn offset(len: usize) -> u32 {
    u32::try_from(len).expect("remnant-scan spellings beyond 4 GiB")
}

impl NeedlesBuilder {
    /// Leaving out names that are also a designated handler's: the handler's name is
    /// on the certificate and in the state file by right, so a participant of the
    /// same name cannot be told apart there (the participant's number and phone are
    /// still searched for).
    pub fn new(handler_names: &[String]) -> NeedlesBuilder {
        NeedlesBuilder {
            n: Needles::default(),
            handlers: handler_names.iter().map(|h| squash(h)).collect(),
            index_of: HashMap::new(),
            short: BTreeSet::new(),
            same: BTreeSet::new(),
            program: String::new(),
        }
    }

    /// The program file's text: a spelling written in it (a participant living at the
    /// sender's address, a phone number equal to the office's) is the program's by
    /// right, in the state file, the record and the certificate, and cannot be told
    /// apart there, so it is not searched for (the participant's other values are).
    pub fn program_text(&mut self, text: &str) {
        self.program = text.to_string();
    }

    /// One value (the same value given twice counts once).
    pub fn add(&mut self, s: &Source) {
        if s.kind == Kind::Name && self.handlers.contains(&squash(&s.text)) {
            self.same.insert((s.participant.clone(), s.text.clone()));
            return;
        }
        let vs = variants(s.kind, &s.text);
        if vs.is_empty() {
            self.short
                .insert((s.participant.clone(), s.kind, s.text.clone()));
            return;
        }
        let n = &mut self.n;
        let who = match self.index_of.get(&s.participant) {
            Some(&i) => i,
            None => {
                let i = n.ids.len() as u32;
                n.ids.push(s.participant.clone());
                self.index_of.insert(s.participant.clone(), i);
                i
            }
        };
        for (k, v) in vs.iter().enumerate() {
            let mut meta = s.kind as u8;
            if k == 0 {
                meta |= TEXT;
            }
            if v.is_ascii() {
                meta |= ASCII;
            } else if encode(v, Enc::Cp932).is_some_and(|b| b.len() >= MIN_VALUE_BYTES) {
                meta |= CP932;
            }
            room(&mut n.arena, v.len());
            room(&mut n.starts, 1);
            room(&mut n.meta, 1);
            room(&mut n.owner, 1);
            n.starts.push(offset(n.arena.len()));
            n.arena.extend_from_slice(v.as_bytes());
            n.meta.push(meta);
            n.owner.push(who);
        }
    }

    /// The participants given so far.
    pub fn participant_count(&self) -> usize {
        self.n.ids.len()
    }

    /// Whether a participant's values have been given.
    pub fn holds(&self, participant: &str) -> bool {
        self.index_of.contains_key(participant)
    }

    pub fn finish(self) -> Needles {
        let NeedlesBuilder {
            mut n,
            short,
            same,
            index_of,
            handlers,
            program,
        } = self;
        drop((index_of, handlers));
        n.starts.push(offset(n.arena.len()));
        let count = n.meta.len();
        // Equal bytes together: the first (by participant, then kind, then as given)
        // gives the kind, all give their participants (in order of their numbers).
        let mut perm: Vec<u32> = (0..count as u32).collect();
        {
            let n = &n;
            perm.sort_unstable_by(|&a, &b| {
                n.utf8(a).cmp(n.utf8(b)).then_with(|| {
                    let (oa, ob) = (n.owner[a as usize], n.owner[b as usize]);
                    n.ids[oa as usize]
                        .cmp(&n.ids[ob as usize])
                        .then(kind_of(n.meta[a as usize]).cmp(&kind_of(n.meta[b as usize])))
                        .then(a.cmp(&b))
                })
            });
        }
        // Values are counted per participant (a value two participants share counts for
        // each), so the count does not depend on how the participants are batched.
        let mut by_kind = [0u64; 7];
        let mut owners: Vec<u32> = Vec::new();
        n.runs.push(0);
        let mut i = 0;
        while i < perm.len() {
            let first = perm[i] as usize;
            let mut j = i;
            owners.clear();
            // In the sort, one participant's spellings of these bytes are together, by kind.
            let mut counted: Option<(u32, u8)> = None;
            while j < perm.len() && n.utf8(perm[j]) == n.utf8(first as u32) {
                let s = perm[j] as usize;
                if owners.last() != Some(&n.owner[s]) {
                    owners.push(n.owner[s]);
                }
                let who_kind = (n.owner[s], n.meta[s] & 7);
                if n.meta[s] & TEXT != 0 && counted != Some(who_kind) {
                    by_kind[usize::from(who_kind.1)] += 1;
                    counted = Some(who_kind);
                }
                if j > i {
                    n.meta[s] |= MERGED;
                }
                j += 1;
            }
            if owners.len() > 1 {
                n.owner[first] = SHARED | (n.runs.len() as u32 - 1);
                n.shared.extend_from_slice(&owners);
                n.runs.push(n.shared.len() as u32);
            }
            i = j;
        }
        // The merged spellings' bytes out of the arena (moved down in place: no copy of
        // the arena is made), each spelling then starting where the previous one ends.
        let mut w = 0usize;
        for s in 0..count {
            let (a, z) = (n.starts[s] as usize, n.starts[s + 1] as usize);
            n.starts[s] = offset(w);
            if n.meta[s] & MERGED == 0 {
                n.arena.copy_within(a..z, w);
                w += z - a;
            }
        }
        n.starts[count] = offset(w);
        n.arena.truncate(w);
        n.arena.shrink_to_fit();
        n.starts.shrink_to_fit();
        n.meta.shrink_to_fit();
        n.owner.shrink_to_fit();
        // The live spellings in byte order (perm is), bucketed by their first two bytes.
        perm.retain(|&s| n.meta[s as usize] & MERGED == 0);
        let mut by_pair = vec![0u32; (1 << 16) + 1];
        let mut third = Vec::with_capacity(perm.len());
        let (mut utf8_pairs, mut utf16_units, mut cp932_pairs) = (
            PairFilter::default(),
            PairFilter::default(),
            PairFilter::default(),
        );
        let (mut patterns, mut max_len) = (0, 0);
        for &s in &perm {
            let b = n.utf8(s);
            by_pair[usize::from(u16::from_be_bytes([b[0], b[1]])) + 1] += 1;
            third.push(u16::from_be_bytes([b[2], b[3]]));
            utf8_pairs.set(u16::from_be_bytes([b[0], b[1]]));
            let text = n.text(s);
            let units = text.encode_utf16().count();
            utf16_units.set(text.encode_utf16().next().unwrap_or(0));
            patterns += 3;
            max_len = max_len.max(b.len()).max(units * 2);
            if n.meta[s as usize] & CP932 != 0 {
                if let Some(cp) = encode(text, Enc::Cp932) {
                    cp932_pairs.set(u16::from_be_bytes([cp[0], cp[1]]));
                    max_len = max_len.max(cp.len());
                    patterns += 1;
                }
            }
        }
        n.utf8_pairs = utf8_pairs;
        n.utf16_units = utf16_units;
        n.cp932_pairs = cp932_pairs;
        n.patterns = patterns;
        n.max_len = max_len;
        for k in 1..by_pair.len() {
            by_pair[k] += by_pair[k - 1];
        }
        perm.shrink_to_fit();
        third.shrink_to_fit();
        n.order = perm;
        n.third = third;
        n.by_pair = by_pair;
        n.shared.shrink_to_fit();
        n.ids.shrink_to_fit();
        n.values = by_kind.iter().sum();
        n.values_by_kind = Kind::ALL
            .iter()
            .map(|k| (*k, by_kind[*k as usize]))
            .filter(|(_, c)| *c > 0)
            .collect();
        n.skipped_short = short.len() as u64;
        n.skipped_handler_names = same.len() as u64;
        if !program.is_empty() {
            let mut hits = Vec::new();
            n.find(program.as_bytes(), 0, program.len(), &mut hits);
            for (_, i) in hits {
                let s = (i >> 2) as usize;
                if n.meta[s] & IN_PROGRAM == 0 {
                    n.meta[s] |= IN_PROGRAM;
                    n.patterns -= 3 + usize::from(n.meta[s] & CP932 != 0);
                }
            }
        }
        n
    }
}

/// A candidate's bytes compared with the file's in one encoding: the pattern's length
/// when the file holds it at this place.
fn matches_in(text: &str, enc: Enc, hay: &[u8]) -> Option<usize> {
    match enc {
        Enc::Utf8 => hay.starts_with(text.as_bytes()).then_some(text.len()),
        Enc::Cp932 => {
            let b = encode(text, Enc::Cp932)?;
            hay.starts_with(&b).then_some(b.len())
        }
        Enc::Utf16Le | Enc::Utf16Be => {
            let mut at = 0;
            for u in text.encode_utf16() {
                let b = if enc == Enc::Utf16Le {
                    u.to_le_bytes()
                } else {
                    u.to_be_bytes()
                };
                if hay.get(at..at + 2) != Some(&b[..]) {
                    return None;
                }
                at += 2;
            }
            Some(at)
        }
    }
}

/// The file's next characters at a place, read in `enc` and written as UTF-8 into
/// `out` (at least four bytes when the file has them): what a pattern starting there
/// in that encoding would be in UTF-8.
fn as_utf8(hay: &[u8], enc: Enc, out: &mut String) {
    out.clear();
    match enc {
        Enc::Utf8 => {}
        Enc::Utf16Le | Enc::Utf16Be => {
            let units = hay.chunks_exact(2).take(4).map(|b| {
                if enc == Enc::Utf16Le {
                    u16::from_le_bytes([b[0], b[1]])
                } else {
                    u16::from_be_bytes([b[0], b[1]])
                }
            });
            for c in char::decode_utf16(units) {
                let Ok(c) = c else { break };
                out.push(c);
                if out.len() >= MIN_VALUE_BYTES {
                    break;
                }
            }
        }
        Enc::Cp932 => {
            let mut d = encoding_rs::SHIFT_JIS.new_decoder_without_bom_handling();
            let take = &hay[..hay.len().min(8)];
            out.reserve(32);
            let _ = d.decode_to_string_without_replacement(take, out, false);
        }
    }
}

/// Bytes of context looked at on each side of a short match (clipped at the file's
/// ends): random bytes read as text in the match's encoding this far on both sides
/// about once in 10^7 (CP932, the densest) to 10^17 (UTF-8) matches.
const CONTEXT_BYTES: usize = 32;

/// A short match standing as a field counts only in a line of at least this many
/// bytes of text besides it (a number and a phone, say): a lone separator pair and a
/// line break turn up by chance in random bytes about once in 10^5 places.
const MIN_LINE_BYTES: usize = 16;

/// A character Japanese text holds: printable ASCII, tab and line breaks, Latin-1,
/// Greek and Cyrillic (in JIS), punctuation and symbols, kana, CJK and full-/half-width
/// forms; not control characters, private use, or the scripts Japanese files do not
/// write (random UTF-16 units fall here about half the time, random bytes rarely).
fn is_text_char(c: char) -> bool {
    matches!(u32::from(c),
        0x09 | 0x0A | 0x0D | 0x20..=0x7E | 0xA0..=0x17F | 0x391..=0x3C9 | 0x401..=0x451
        | 0x2010..=0x266F | 0x3000..=0x30FF | 0x3200..=0x33FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFEFF | 0xFF01..=0xFFEF
        | 0x1F300..=0x1FAFF | 0x20000..=0x3134F)
}

/// A character that ends a field: what stands around a value in a CSV/TSV cell, an XML
/// element or a line of text.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ',' | '\t'
            | '"'
            | '\''
            | ';'
            | ':'
            | '='
            | '|'
            | '<'
            | '>'
            | '('
            | ')'
            | '/'
            | ' '
            | '\r'
            | '\n'
            | '\u{3000}'
            | '、'
            | '，'
            | '：'
            | '（'
            | '）'
            | '「'
            | '」'
    )
}

/// The next character of `b` in `enc`: `Ok((c, bytes))`, `Err(true)` when `b` ends
/// inside it (or is empty), `Err(false)` when the bytes are not a character.
fn next_char(enc: Enc, b: &[u8]) -> Result<(char, usize), bool> {
    let Some(&b0) = b.first() else {
        return Err(true);
    };
    match enc {
        Enc::Utf8 => {
            let w = match b0 {
                0x00..=0x7F => 1,
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF4 => 4,
                _ => return Err(false),
            };
            let Some(s) = b.get(..w) else {
                return Err(std::str::from_utf8(b).is_err_and(|e| e.error_len().is_none()));
            };
            let c = std::str::from_utf8(s).map_err(|_| false)?;
            Ok((c.chars().next().ok_or(false)?, w))
        }
        Enc::Cp932 => match b0 {
            0x00..=0x7F => Ok((char::from(b0), 1)),
            0xA1..=0xDF => Ok((
                char::from_u32(0xFF61 + u32::from(b0 - 0xA1)).ok_or(false)?,
                1,
            )),
            0x81..=0x9F | 0xE0..=0xFC => {
                let Some(s) = b.get(..2) else {
                    return Err(true);
                };
                let (c, bad) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(s);
                let mut cs = c.chars();
                match (bad, cs.next(), cs.next()) {
                    (false, Some(c), None) => Ok((c, 2)),
                    _ => Err(false),
                }
            }
            _ => Err(false),
        },
        Enc::Utf16Le | Enc::Utf16Be => {
            let unit = |k: usize| -> Option<u16> {
                let s = b.get(k..k + 2)?;
                Some(if enc == Enc::Utf16Le {
                    u16::from_le_bytes([s[0], s[1]])
                } else {
                    u16::from_be_bytes([s[0], s[1]])
                })
            };
            let u = unit(0).ok_or(true)?;
            if (0xD800..0xDC00).contains(&u) {
                let v = unit(2).ok_or(true)?;
                let c = char::decode_utf16([u, v]).next().ok_or(false)?;
                return Ok((c.map_err(|_| false)?, 4));
            }
            Ok((char::from_u32(u32::from(u)).ok_or(false)?, 2))
        }
    }
}

/// The text on one side of a match.
#[derive(Debug, Clone, Copy, Default)]
struct Side {
    /// Bytes of text next to the match (at most [`CONTEXT_BYTES`] and a character).
    text: usize,
    /// The text reaches the file's end (after) or start (before).
    edge: bool,
    /// Bytes from the match to the nearest line break within that text, the break
    /// included.
    line: Option<usize>,
    /// The character next to the match (`None` at the file's edge).
    next: Option<char>,
}

impl Side {
    fn full(&self) -> bool {
        self.text >= CONTEXT_BYTES || self.edge
    }
    /// Next to the match a separator or the file's edge, and text up to a line break,
    /// the file's edge or the window's end.
    fn bounds_a_field(&self) -> bool {
        self.next.is_none_or(is_separator) && (self.line.is_some() || self.full())
    }
    /// The bytes of the match's line on this side.
    fn in_line(&self) -> usize {
        self.line.unwrap_or(self.text)
    }
}

/// The text after a match, from `at` (`hay` ends at the file's end or holds the window).
fn side_after(hay: &[u8], at: usize, enc: Enc) -> Side {
    let mut s = Side::default();
    let mut pos = at;
    while pos - at < CONTEXT_BYTES {
        match next_char(enc, &hay[pos..]) {
            Ok((c, w)) if is_text_char(c) => {
                s.next.get_or_insert(c);
                if s.line.is_none() && (c == '\n' || c == '\r') {
                    s.line = Some(pos + w - at);
                }
                pos += w;
            }
            Ok((c, _)) => {
                s.next.get_or_insert(c);
                break;
            }
            Err(end) => {
                s.edge = end;
                break;
            }
        }
    }
    s.text = pos - at;
    s
}

/// The text before a match at `at`: the window before it read from each place a
/// character could start (the encoding's alignment), the longest text kept.
/// `hay` starts at the file's start or holds the window and a few bytes more.
fn side_before(hay: &[u8], at: usize, enc: Enc) -> Side {
    let (starts, step) = match enc {
        Enc::Utf8 => (4, 1),
        Enc::Cp932 => (2, 1),
        Enc::Utf16Le | Enc::Utf16Be => (1, 2),
    };
    let mut best = Side::default();
    for k in 0..starts {
        let want = CONTEXT_BYTES + k * step;
        // Keep the match's alignment (UTF-16 units).
        let from = if at >= want { at - want } else { at % step };
        let mut s = Side {
            edge: from < step,
            ..Side::default()
        };
        let (mut pos, mut text_from) = (from, from);
        while pos < at {
            match next_char(enc, &hay[pos..at]) {
                Ok((c, w)) if is_text_char(c) => {
                    s.next = Some(c);
                    if c == '\n' || c == '\r' {
                        s.line = Some(at - pos);
                    }
                    pos += w;
                }
                Ok((c, w)) => {
                    s.next = Some(c);
                    s.edge = false;
                    s.line = None;
                    pos += w;
                    text_from = pos;
                }
                Err(_) => {
                    // Not a character, or one running into the match.
                    s.next = Some('\u{FFFD}');
                    s.edge = false;
                    s.line = None;
                    pos += 1;
                    text_from = pos;
                }
            }
        }
        if pos != at {
            continue;
        }
        s.text = at - text_from;
        if (s.text, s.edge) > (best.text, best.edge) {
            best = s;
        }
    }
    best
}

/// Whether a short match (under [`CIPHERTEXT_MIN_MATCH`] bytes) of `len` bytes at `at`
/// stands in text of its encoding: text on both sides for [`CONTEXT_BYTES`] (or to the
/// file's edge), or a whole field: a separator (or the file's edge) on each side, and
/// text on each side up to a line break, the window's end or the file's edge, with a
/// field separator other than a line break next to it on at least one side.
fn in_text(hay: &[u8], at: usize, len: usize, enc: Enc) -> bool {
    let after = side_after(hay, at + len, enc);
    if !after.full() && !after.bounds_a_field() {
        return false;
    }
    let before = side_before(hay, at, enc);
    if before.full() && after.full() {
        return true;
    }
    let cell = |s: &Side| s.next.is_some_and(|c| c != '\r' && c != '\n');
    before.bounds_a_field()
        && after.bounds_a_field()
        && (cell(&before) || cell(&after))
        && before.in_line() + after.in_line() >= MIN_LINE_BYTES
}

impl Needles {
    pub fn build(sources: &BTreeSet<Source>) -> Needles {
        Needles::build_except(sources, &[])
    }

    /// As `build`, leaving out names that are also a designated handler's.
    pub fn build_except(sources: &BTreeSet<Source>, handler_names: &[String]) -> Needles {
        let mut b = NeedlesBuilder::new(handler_names);
        for s in sources {
            b.add(s);
        }
        b.finish()
    }

    /// Spelling `s`'s UTF-8 bytes.
    fn utf8(&self, s: u32) -> &[u8] {
        let s = s as usize;
        &self.arena[self.starts[s] as usize..self.starts[s + 1] as usize]
    }

    fn text(&self, s: u32) -> &str {
        std::str::from_utf8(self.utf8(s)).unwrap_or("")
    }

    /// How many byte patterns are searched for (each spelling in each encoding that
    /// writes it differently).
    pub fn pattern_count(&self) -> usize {
        self.patterns
    }

    /// Pattern `i` (a spelling and an encoding, as a hit names it).
    pub fn pattern(&self, i: u32) -> Pattern {
        let s = i >> 2;
        let enc = Enc::ALL[(i & 3) as usize];
        let m = self.meta[s as usize];
        let text = self.text(s);
        let len = match enc {
            Enc::Utf8 => text.len(),
            Enc::Cp932 => encode(text, enc).map_or(0, |b| b.len()),
            Enc::Utf16Le | Enc::Utf16Be => text.encode_utf16().count() * 2,
        };
        Pattern {
            spelling: s,
            len,
            kind: kind_of(m),
            enc,
            bounded: m & ASCII != 0,
        }
    }

    /// A pattern's bytes.
    pub fn bytes(&self, p: &Pattern) -> Vec<u8> {
        encode(self.text(p.spelling), p.enc).unwrap_or_default()
    }

    /// The participants whose value a pattern is (two participants may share a name).
    pub fn participants(&self, p: &Pattern) -> Vec<String> {
        let o = self.owner[p.spelling as usize];
        let run: &[u32] = if o & SHARED == 0 {
            std::slice::from_ref(&self.owner[p.spelling as usize])
        } else {
            let k = (o & !SHARED) as usize;
            &self.shared[self.runs[k] as usize..self.runs[k + 1] as usize]
        };
        run.iter().map(|&i| self.ids[i as usize].clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The participants whose values these needles hold.
    pub fn participant_count(&self) -> usize {
        self.ids.len()
    }

    /// The bytes these needles hold on the heap (what a batch costs in memory).
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + 4 * (self.starts.capacity()
                + self.owner.capacity()
                + self.runs.capacity()
                + self.shared.capacity()
                + self.order.capacity()
                + self.by_pair.capacity())
            + self.meta.capacity()
            + 2 * self.third.capacity()
            + 3 * 8 * (1 << 10)
            + self
                .ids
                .iter()
                .map(|i| i.capacity() + std::mem::size_of::<String>())
                .sum::<usize>()
    }

    /// The live spellings whose UTF-8 bytes start with `key`'s first four bytes.
    fn candidates(&self, key: &[u8]) -> &[u32] {
        let pair = usize::from(u16::from_be_bytes([key[0], key[1]]));
        let (lo, hi) = (self.by_pair[pair] as usize, self.by_pair[pair + 1] as usize);
        if lo == hi {
            return &[];
        }
        let k = u16::from_be_bytes([key[2], key[3]]);
        let third = &self.third[lo..hi];
        let a = third.partition_point(|&x| x < k);
        let z = a + third[a..].partition_point(|&x| x == k);
        &self.order[lo + a..lo + z]
    }

    /// Every match starting in `hay[from..to]`. `hay` holds [`CONTEXT_BYTES`] and 8
    /// bytes before `from` (unless the file starts nearer) and, unless at the end of
    /// the file, enough after `to` for the longest pattern, the character after it and
    /// the context. A match shorter than [`CIPHERTEXT_MIN_MATCH`] bytes counts only
    /// where it stands in text of its encoding ([`in_text`]): such short byte runs
    /// occur by chance in binary files.
    fn find(&self, hay: &[u8], from: usize, to: usize, out: &mut Vec<(usize, u32)>) {
        let to = to.min(hay.len().saturating_sub(3));
        let mut key = String::new();
        for p in from..to {
            let (b0, b1) = (hay[p], hay[p + 1]);
            for enc in Enc::ALL {
                let hit = match enc {
                    Enc::Utf8 => self.utf8_pairs.has(u16::from_be_bytes([b0, b1])),
                    Enc::Utf16Le => self.utf16_units.has(u16::from_le_bytes([b0, b1])),
                    Enc::Utf16Be => self.utf16_units.has(u16::from_be_bytes([b0, b1])),
                    Enc::Cp932 => self.cp932_pairs.has(u16::from_be_bytes([b0, b1])),
                };
                if !hit {
                    continue;
                }
                let cands = if enc == Enc::Utf8 {
                    self.candidates(&hay[p..p + 4])
                } else {
                    as_utf8(&hay[p..], enc, &mut key);
                    if key.len() < MIN_VALUE_BYTES {
                        continue;
                    }
                    self.candidates(key.as_bytes())
                };
                for &s in cands {
                    let m = self.meta[s as usize];
                    if m & IN_PROGRAM != 0 || (enc == Enc::Cp932 && m & CP932 == 0) {
                        continue;
                    }
                    let Some(len) = matches_in(self.text(s), enc, &hay[p..]) else {
                        continue;
                    };
                    if m & ASCII != 0 {
                        let pat = Pattern {
                            spelling: s,
                            len,
                            kind: kind_of(m),
                            enc,
                            bounded: true,
                        };
                        let u = pat.unit();
                        let end = p + len;
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
                    // An ASCII spelling's UTF-8 bytes are its CP932 bytes too: in text of
                    // either encoding.
                    let text_in = |e| in_text(hay, p, len, e);
                    if len < CIPHERTEXT_MIN_MATCH
                        && !text_in(enc)
                        && !(m & ASCII != 0 && enc == Enc::Utf8 && text_in(Enc::Cp932))
                    {
                        continue;
                    }
                    out.push((p, s << 2 | enc as u32));
                }
            }
        }
    }

    /// Search a stream in chunks. Each start position is searched once, with the
    /// longest pattern's length, one more character and a short match's context of
    /// look-ahead (carried over to the next chunk when the chunk ends first) and the
    /// context and a few bytes of look-behind. Returns the bytes read.
    pub fn scan_reader<R: Read>(
        &self,
        mut r: R,
        hits: &mut Vec<(u64, u32)>,
    ) -> std::io::Result<u64> {
        const CHUNK: usize = 1 << 20;
        // The longest pattern, the character after it and a short match's context.
        let look = self.max_len + 2 + CONTEXT_BYTES + 4;
        // Kept before the next position: the boundary's two bytes and the context,
        // from every place a character could start.
        let keep = CONTEXT_BYTES + 8;
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
            let cut = from.saturating_sub(keep);
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
    /// The place's number in the order the scan came to it (to merge batches' hits).
    pub seq: u64,
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
    /// Places searched so far.
    places: u64,
    /// Matches shorter than this many bytes (in their encoding) are not hits: for
    /// ciphertext, which [`CIPHERTEXT_MIN_MATCH`] explains.
    pub min_match: usize,
}

/// In a file that should be ciphertext (the encrypted database after its key is
/// destroyed), a match counts only from this many bytes on. Random bytes hold a given
/// 4-byte sequence about once in 4 GiB, so with thousands of short spellings (a
/// two-kanji name is 4 bytes in CP932 and UTF-16) a 130 MB ciphertext matches some by
/// chance (seen at 10,000 participants), which would stop every close-out; 8 bytes
/// happen by chance about once in 10^19 bytes per spelling. Plaintext that leaked
/// into the file would hold longer values too (addresses, names with their space).
pub const CIPHERTEXT_MIN_MATCH: usize = 8;

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
            places: 0,
            min_match: 0,
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
        let seq = self.places;
        self.places += 1;
        let needles = self.needles;
        let min = self.min_match;
        let raw = raw
            .into_iter()
            .map(|(offset, i)| (offset, needles.pattern(i)))
            .filter(|(_, p)| p.len >= min);
        for (offset, p) in raw.take(MAX_HITS_PER_FILE) {
            let p = &p;
            self.report.hits.push(Hit {
                place: place.to_string(),
                offset,
                kind: p.kind,
                enc: p.enc,
                participants: self.needles.participants(p),
                seq,
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

/// What a search covered in values, summed over its batches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Values searched for, counted per participant (a value two participants share
    /// counts for each), by kind and in all.
    pub values: u64,
    pub values_by_kind: Vec<(Kind, u64)>,
    /// Byte patterns searched (a spelling in an encoding), over all batches.
    pub patterns: u64,
    pub skipped_short: u64,
    pub skipped_handler_names: u64,
}

impl Counts {
    fn add(&mut self, n: &Needles) {
        self.values += n.values;
        for &(k, c) in &n.values_by_kind {
            match self.values_by_kind.iter_mut().find(|(x, _)| *x == k) {
                Some((_, t)) => *t += c,
                None => self.values_by_kind.push((k, c)),
            }
        }
        self.values_by_kind.sort();
        self.patterns += n.pattern_count() as u64;
        self.skipped_short += n.skipped_short;
        self.skipped_handler_names += n.skipped_handler_names;
    }
}

/// Participants per batch of the remnant scan: one batch's spellings (about 1 KB a
/// participant) stay within a few tens of MiB however many participants there are.
pub const PARTICIPANTS_PER_BATCH: u64 = 20_000;

/// How many batches a search of `participants` participants takes, `per_batch` each.
pub fn batch_count(participants: u64, per_batch: u64) -> usize {
    usize::try_from(participants.div_ceil(per_batch.max(1)).max(1)).unwrap_or(usize::MAX)
}

/// The batch (of `batches`) whose needles hold a participant's values: by a hash of the
/// number, so a participant's values are all in one batch, whatever row gives them.
pub fn batch_of(participant: &str, batches: usize) -> usize {
    if batches <= 1 {
        return 0;
    }
    // FNV-1a, then a finalizer so that consecutive numbers spread evenly.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in participant.trim().as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    (h % batches as u64) as usize
}

/// Hands every value of the participants `keep` accepts to `each`, a row at a time.
type EachValue<'a> = Box<dyn Fn(&dyn Fn(&str) -> bool, &mut dyn FnMut(&Source)) -> Result<()> + 'a>;
type NewBuilder<'a> = Box<dyn Fn() -> NeedlesBuilder + 'a>;

/// The remnant scan's needles in batches of participants: each batch's needles are
/// built in turn (from the values, a row at a time), every place is scanned with them,
/// and they are dropped before the next batch is built, so memory is bounded by the
/// batch, not the program. A single batch is built once and kept.
pub struct Search<'a> {
    batches: usize,
    per_batch: u64,
    builder: NewBuilder<'a>,
    values: EachValue<'a>,
    one: Option<Needles>,
}

/// A batch's report folded into the reports before it: its hits added (merged at the
/// end), a place it could not read added once.
fn absorb(merged: &mut Option<Report>, r: Report) {
    match merged {
        None => *merged = Some(r),
        Some(m) => {
            m.hits.extend(r.hits);
            for u in r.unreadable {
                if !m.unreadable.contains(&u) {
                    m.unreadable.push(u);
                }
            }
        }
    }
}

fn merged(report: Option<Report>) -> Report {
    let mut report = report.unwrap_or_default();
    report.hits = merge_hits(std::mem::take(&mut report.hits));
    report
}

impl<'a> Search<'a> {
    /// A search for `participants` participants, `per_batch` a batch: `builder` makes
    /// an empty builder (handlers, program text), `values(keep, each)` hands `each`
    /// every value of the participants `keep` accepts.
    pub fn new(
        participants: u64,
        per_batch: u64,
        builder: impl Fn() -> NeedlesBuilder + 'a,
        values: impl Fn(&dyn Fn(&str) -> bool, &mut dyn FnMut(&Source)) -> Result<()> + 'a,
    ) -> Result<Search<'a>> {
        let mut s = Search {
            batches: batch_count(participants, per_batch),
            per_batch: per_batch.max(1),
            builder: Box::new(builder),
            values: Box::new(values),
            one: None,
        };
        if s.batches == 1 {
            s.one = Some(s.make(0)?);
        }
        Ok(s)
    }

    /// A search with needles already built (one batch).
    pub fn of(needles: Needles) -> Search<'static> {
        Search {
            batches: 1,
            per_batch: u64::MAX,
            builder: Box::new(|| NeedlesBuilder::new(&[])),
            values: Box::new(|_, _| Ok(())),
            one: Some(needles),
        }
    }

    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Batch `k`'s needles: its participants' values, by a hash of their numbers.
    fn make(&self, k: usize) -> Result<Needles> {
        let mut b = (self.builder)();
        let batches = self.batches;
        (self.values)(&|id| batch_of(id, batches) == k, &mut |s| b.add(s))?;
        Ok(b.finish())
    }

    /// Run `walk` (which scans files and folders) once per batch, each time with a
    /// fresh [`Scanner`] on that batch's needles; the reports merged (a place found by
    /// several batches once, with every participant found there) and the counts summed
    /// (a participant's values all in one batch, so the counts are those of one).
    pub fn scan(
        &self,
        exclude: &[PathBuf],
        mut walk: impl FnMut(&mut Scanner),
    ) -> Result<(Report, Counts)> {
        let mut report = None;
        let mut counts = Counts::default();
        for k in 0..self.batches {
            let built;
            let needles = match &self.one {
                Some(n) => n,
                None => {
                    built = self.make(k)?;
                    &built
                }
            };
            counts.add(needles);
            let mut scanner = Scanner::new(needles, exclude);
            walk(&mut scanner);
            absorb(&mut report, scanner.report);
        }
        Ok((merged(report), counts))
    }

    /// As [`Search::scan`] for a few small files whose counts are not wanted: the
    /// values are read once, and the files scanned each time a batch's worth of
    /// participants (in the order read) has been gathered, instead of reading every
    /// value once per batch.
    pub fn check(&self, exclude: &[PathBuf], mut walk: impl FnMut(&mut Scanner)) -> Result<Report> {
        if let Some(n) = &self.one {
            let mut scanner = Scanner::new(n, exclude);
            walk(&mut scanner);
            return Ok(merged(Some(scanner.report)));
        }
        let mut report = None;
        let mut flush = |b: NeedlesBuilder, report: &mut Option<Report>| {
            let n = b.finish();
            let mut scanner = Scanner::new(&n, exclude);
            walk(&mut scanner);
            absorb(report, scanner.report);
        };
        let mut b = (self.builder)();
        (self.values)(&|_| true, &mut |s| {
            // A participant's values stay together (a row's are handed on together).
            if b.participant_count() as u64 >= self.per_batch && !b.holds(&s.participant) {
                flush(std::mem::replace(&mut b, (self.builder)()), &mut report);
            }
            b.add(s);
        })?;
        flush(b, &mut report);
        Ok(merged(report))
    }
}

/// Hits of several batches as one scan would give them: by place (in the order the
/// scan came to it) and offset, one hit per place, offset, encoding and kind with
/// every participant found there, at most [`MAX_HITS_PER_FILE`] a place.
fn merge_hits(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by_key(|h| (h.seq, h.offset, h.enc, h.kind));
    let mut out: Vec<Hit> = Vec::new();
    let mut in_place = 0usize;
    for h in hits {
        if let Some(last) = out.last_mut() {
            if (last.seq, last.offset, last.enc, last.kind) == (h.seq, h.offset, h.enc, h.kind) {
                for p in h.participants {
                    if !last.participants.contains(&p) {
                        last.participants.push(p);
                    }
                }
                last.participants.sort();
                continue;
            }
            if last.seq != h.seq {
                in_place = 0;
            }
        }
        if in_place < MAX_HITS_PER_FILE {
            in_place += 1;
            out.push(h);
        }
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

    /// Ciphertext (the encrypted database once its key is destroyed) is random bytes: a
    /// short spelling turns up in it by chance, and must not stop the close-out, while a
    /// long value that leaked into it as plaintext still does.
    #[test]
    fn in_ciphertext_only_long_matches_are_hits() {
        let mut s = BTreeSet::new();
        sources_of("C000001", Some("井上 恵子"), None, None, None, &mut s);
        sources_of("C000002", Some("林 翔"), None, None, None, &mut s);
        let n = Needles::build(&s);
        let dir = tempfile::tempdir().unwrap();
        // Pseudo-random bytes with the short name's 4 CP932 bytes inside.
        let short = encode("林翔", Enc::Cp932).unwrap();
        assert_eq!(short.len(), 4);
        let mut chance = noise(1000, 0x9e37_79b9_7f4a_7c15);
        chance.extend(&short);
        chance.extend(noise(1000, 1));
        let chance_file = dir.path().join("chance.bin");
        std::fs::write(&chance_file, &chance).unwrap();
        let mut leaked = noise(1000, 2);
        leaked.extend(encode("井上 恵子", Enc::Cp932).unwrap());
        leaked.extend(noise(1000, 3));
        let leaked_file = dir.path().join("leaked.bin");
        std::fs::write(&leaked_file, &leaked).unwrap();
        let hits = |min: usize, f: &Path| {
            let mut sc = Scanner::new(&n, &[]);
            sc.min_match = min;
            sc.file(f);
            sc.report.hits.len()
        };
        // Nor in an ordinary file: a short match counts only in text.
        assert_eq!(hits(0, &chance_file), 0);
        assert_eq!(hits(CIPHERTEXT_MIN_MATCH, &chance_file), 0);
        assert!(hits(0, &leaked_file) > 0);
        assert!(hits(CIPHERTEXT_MIN_MATCH, &leaked_file) > 0);
    }

    /// Fixed-seed xorshift bytes (fast, the same every run).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len.div_ceil(8))
            .flat_map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()
            })
            .take(len)
            .collect()
    }

    /// 2,500 participants with two-kanji names (4 bytes in CP932 and UTF-16), and
    /// `Z000002` named 佐藤 with a phone.
    fn short_names() -> Needles {
        let kanji: Vec<char> =
            "佐藤鈴木高橋田中伊渡辺山本村小林加吉野口松井清水森池石川前原岡坂上下西東北南大谷崎宮内長斎近阿部遠青金"
                .chars()
                .take(50)
                .collect();
        let mut s = BTreeSet::new();
        for (k, (a, b)) in kanji
            .iter()
            .flat_map(|a| kanji.iter().map(move |b| (a, b)))
            .enumerate()
        {
            let name = format!("{a}{b}");
            let phone = (name == "佐藤").then_some("03-1234-5678");
            sources_of(
                &format!("Z{:06}", k + 1),
                Some(&name),
                None,
                phone,
                None,
                &mut s,
            );
        }
        Needles::build(&s)
    }

    /// Random bytes hold short spellings by chance (a two-kanji name is 4 bytes in
    /// CP932 and UTF-16: 16 MiB of them against 2,500 names match some 25 times): such
    /// a match is not a hit unless it stands in text of its encoding, while a short
    /// name in a CSV cell, a line of UTF-8 or UTF-16 text or an xlsx's shared strings
    /// is, even after megabytes of binary bytes.
    #[test]
    fn short_matches_count_only_in_text() {
        use std::io::Write;
        let n = short_names();
        assert!(n.participant_count() >= 2500);
        let random = noise(16 << 20, 0x9e37_79b9_7f4a_7c15);
        assert_eq!(hits_in_bytes(&n, &random).unwrap(), 0, "chance matches");
        let sato = |enc| encode("佐藤", enc).unwrap();
        let found = |bytes: &[u8]| {
            let mut hits = Vec::new();
            n.scan_reader(bytes, &mut hits).unwrap();
            hits.iter()
                .map(|&(o, i)| (o, n.participants(&n.pattern(i)), n.pattern(i).enc))
                .collect::<Vec<_>>()
        };
        // The name alone among binary bytes: not text.
        for enc in Enc::ALL {
            let mut b = noise(4000, 7);
            b.extend(sato(enc));
            b.extend(noise(4000, 8));
            assert!(found(&b).is_empty(), "{enc:?}");
        }
        // A CSV appended to random bytes: the name's cell in the first row after a short
        // header, and in a later row.
        for (enc, csv) in [
            (Enc::Cp932, "番号,氏名\r\nZ000002,佐藤,0312345678\r\n"),
            (
                Enc::Cp932,
                "番号,氏名,電話\r\nZ000009,鈴木,-\r\nZ000002,佐藤,-\r\n",
            ),
            (Enc::Utf8, "id\tname\nZ000002\t佐藤\t2025-04-01\n"),
            (Enc::Utf16Le, "メモ\r\n氏名：佐藤 様 (会員)\r\n"),
            (Enc::Utf16Be, "氏名一覧（令和7年度）\r\n鈴木\r\n佐藤\r\n"),
        ] {
            let mut b = random[..1 << 20].to_vec();
            let text = encode(csv, enc).unwrap();
            let at = (b.len() + find_bytes(&text, &sato(enc)).unwrap()) as u64;
            b.extend(text);
            let f = found(&b);
            assert!(
                f.iter()
                    .any(|h| h.0 == at && h.1 == ["Z000002"] && h.2 == enc),
                "{csv} {enc:?}: {f:?}"
            );
        }
        // A participant number in a CP932 CSV: its bytes are those of UTF-8 too, and its
        // cell stands in CP932 text, not UTF-8.
        let csv = encode("番号,区分,日付\r\nZ000002,当選,2025-04-01\r\n", Enc::Cp932).unwrap();
        let mut b = random[..1 << 20].to_vec();
        let at = (b.len() + find_bytes(&csv, b"Z000002").unwrap()) as u64;
        b.extend(csv);
        assert!(found(&b).iter().any(|h| h.0 == at), "{:?}", found(&b));
        // A text file of its own, in every encoding.
        for enc in Enc::ALL {
            let f = found(&encode("担当：佐藤", enc).unwrap());
            assert!(f.iter().any(|h| h.1 == ["Z000002"]), "{enc:?}: {f:?}");
        }
        // An xlsx with the name in its shared strings.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("book.xlsx");
        let mut zw = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        zw.start_file(
            "xl/media/image1.png",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zw.write_all(&random[..1 << 20]).unwrap();
        zw.start_file(
            "xl/sharedStrings.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zw.write_all("<sst><si><t>佐藤</t></si></sst>".as_bytes())
            .unwrap();
        zw.finish().unwrap();
        let mut s = Scanner::new(&n, &[]);
        s.folder(dir.path(), true);
        let places: Vec<&str> = s.report.hits.iter().map(|h| h.place.as_str()).collect();
        assert!(
            places
                .iter()
                .all(|p| p.ends_with("book.xlsx!xl/sharedStrings.xml"))
                && !places.is_empty(),
            "{places:?}"
        );
    }

    /// What counts as text around a short match, by itself.
    #[test]
    fn the_context_of_a_short_match() {
        let at = |hay: &[u8], enc| {
            let v = encode("佐藤", enc).unwrap();
            let p = find_bytes(hay, &v).unwrap();
            in_text(hay, p, v.len(), enc)
        };
        for enc in Enc::ALL {
            let e = |t: &str| encode(t, enc).unwrap();
            let mut bin = noise(64, 3);
            bin.iter_mut().for_each(|b| *b |= 0x80);
            let glue = |parts: &[&[u8]]| parts.concat();
            // Text all around, clipped at the file's ends.
            assert!(at(&e("佐藤"), enc), "{enc:?}");
            assert!(at(
                &e(&format!("{}佐藤{}", "あ".repeat(20), "い".repeat(20))),
                enc
            ));
            // A cell in a line of at least 16 bytes, binary beyond the line.
            assert!(
                at(&glue(&[&bin, &e("\nZ000001,佐藤,0312345678\n"), &bin]), enc),
                "{enc:?}"
            );
            // Not a cell: glued to binary, or in a line too short.
            assert!(!at(&glue(&[&bin, &e("佐藤"), &bin]), enc), "{enc:?}");
            assert!(!at(&glue(&[&bin, &e("\n佐藤,1\n"), &bin]), enc), "{enc:?}");
            assert!(
                !at(
                    &glue(&[&bin, &e("\nZ000001,x佐藤y,0312345678\n"), &bin]),
                    enc
                ),
                "{enc:?}"
            );
        }
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
                let mut hay = b"memo:  ".to_vec();
                hay.extend_from_slice(&b);
                hay.extend_from_slice(b" ok");
                assert!(hits_in_bytes(&n, &hay).unwrap() > 0, "{text} in {enc:?}");
            }
        }
        assert_eq!(
            hits_in_bytes(&n, "井上 恵 子 C00000 03-5306".as_bytes()).unwrap(),
            0
        );
    }

    /// The UTF-16 and CP932 spellings are not stored but read through the file's bytes:
    /// a name in UTF-16 (either byte order, at an even or odd offset, among other
    /// UTF-16 text) and a half-width kana in CP932 are found where they are, as what
    /// they are.
    #[test]
    fn utf16_and_cp932_spellings_are_found_where_they_are() {
        let n = needles();
        let mut hits = Vec::new();
        for (enc, text, kind) in [
            (Enc::Utf16Le, "井上恵子", Kind::Name),
            (Enc::Utf16Be, "井上　恵子", Kind::Name),
            (Enc::Utf16Le, "ｲﾉｳｴ ｹｲｺ", Kind::Kana),
            (Enc::Utf16Be, "C000001", Kind::Id),
            (Enc::Cp932, "ｲﾉｳｴｹｲｺ", Kind::Kana),
            (Enc::Cp932, "井上 恵子", Kind::Name),
        ] {
            for lead in [6usize, 7] {
                let mut hay = vec![b'.'; lead];
                hay.extend(encode("氏名：", enc).unwrap());
                let at = hay.len();
                hay.extend(encode(text, enc).unwrap());
                hay.extend(encode("、様", enc).unwrap());
                hits.clear();
                n.scan_reader(&hay[..], &mut hits).unwrap();
                let found: Vec<(u64, Kind, Enc)> = hits
                    .iter()
                    .map(|&(o, i)| (o, n.pattern(i).kind, n.pattern(i).enc))
                    .collect();
                assert!(
                    found.contains(&(at as u64, kind, enc)),
                    "{text} in {enc:?} at {at}: {found:?}"
                );
                let p = n.pattern(hits.iter().find(|h| h.0 == at as u64).unwrap().1);
                assert_eq!(n.participants(&p), ["C000001"]);
                assert_eq!(n.bytes(&p), encode(text, enc).unwrap()[..p.len]);
            }
        }
        // Four encodings of each spelling, less CP932 for the ASCII ones (the same
        // bytes as UTF-8) and where CP932 cannot write a value.
        assert!(n.pattern_count() > 3 * 8, "{}", n.pattern_count());
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

    /// A participant living at the address the program file gives as the sender's
    /// (or with the office's phone) is not a remnant in the state file, the record or
    /// the certificate, which hold the program by right: such a spelling is left out,
    /// the participant's other values are still searched for.
    #[test]
    fn what_the_program_file_says_is_not_searched_for() {
        let mut s = BTreeSet::new();
        sources_of("A012780", None, None, Some("03-1234-5678"), None, &mut s);
        places_of(
            "A012780",
            None,
            Some("東京都新宿区西新宿1丁目2番3号"),
            None,
            None,
            &mut s,
        );
        let program =
            "sender_address = \"東京都新宿区西新宿1-2-3\"\nsender_phone = \"03-1234-5678\"\n";
        let mut b = NeedlesBuilder::new(&[]);
        for v in &s {
            b.add(v);
        }
        let all = b.finish();
        assert!(hits_in_bytes(&all, program.as_bytes()).unwrap() > 0);
        let mut b = NeedlesBuilder::new(&[]);
        b.program_text(program);
        for v in &s {
            b.add(v);
        }
        let n = b.finish();
        assert_eq!(hits_in_bytes(&n, program.as_bytes()).unwrap(), 0);
        assert!(n.pattern_count() < all.pattern_count());
        for still in ["東京都新宿区西新宿1丁目2番3号", "0312345678", "A012780"] {
            assert!(hits_in_bytes(&n, still.as_bytes()).unwrap() > 0, "{still}");
        }
    }

    /// Participants `P0000`… with a name, kana, phone, address and birth date each;
    /// `P0003` and `P0031` share a name (in different batches below).
    fn many(n: usize) -> BTreeSet<Source> {
        let mut s = BTreeSet::new();
        for i in 0..n {
            let id = format!("P{i:04}");
            let name = if i == 31 {
                "試験 三郎".to_string()
            } else {
                format!(
                    "試験 {}郎",
                    ["一", "二", "三", "四", "五", "六", "七", "八"][i % 8].repeat(1 + i / 8)
                )
            };
            sources_of(
                &id,
                Some(&name),
                Some(&format!(
                    "シケン タロウ{}{}",
                    ["ア", "イ", "ウ", "エ", "オ"][i % 5],
                    ["カ", "キ", "ク", "ケ", "コ", "サ", "シ", "ス"][i / 5]
                )),
                Some(&format!("03-5{i:03}-1234")),
                None,
                &mut s,
            );
            places_of(
                &id,
                Some("160-0022"),
                Some(&format!(
                    "東京都新宿区新宿{}丁目{}番{}号",
                    1 + i % 7,
                    1 + i,
                    2 + i
                )),
                Some("ハイツ201"),
                Some(&format!("19{:02}-0{}-1{}", 30 + i, 1 + i % 9, i % 10)),
                &mut s,
            );
        }
        s
    }

    fn search_of(sources: &BTreeSet<Source>, batches: u64) -> Search<'_> {
        Search::new(
            40,
            40u64.div_ceil(batches),
            || NeedlesBuilder::new(&["試験 一郎".to_string()]),
            move |keep, each| {
                for v in sources.iter().filter(|v| keep(&v.participant)) {
                    each(v);
                }
                Ok(())
            },
        )
        .unwrap()
    }

    /// The participants split into batches are found exactly as in one batch, in every
    /// form and encoding, inside containers too: a shared name found in one place
    /// names both participants, and the counts do not depend on the batching. Each
    /// batch's needles hold only its share of the participants.
    #[test]
    fn batches_find_what_one_batch_finds() {
        use std::io::Write;
        let sources = many(40);
        let dir = tempfile::tempdir().unwrap();
        let w = |name: &str, bytes: Vec<u8>| std::fs::write(dir.path().join(name), bytes).unwrap();
        let u16le = |t: &str| {
            t.encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<u8>>()
        };
        let mut csv = String::from("番号,氏名,電話\n");
        for i in [0, 5, 12, 27, 39] {
            csv.push_str(&format!("P{i:04},x,03{i:03}\n"));
        }
        w("ids.csv", csv.into_bytes());
        w(
            "sjis.csv",
            encode("氏名,試験　三郎\r\nｼｹﾝ ﾀﾛｳｳｷ,0350041234\r\n", Enc::Cp932).unwrap(),
        );
        w(
            "memo.txt",
            u16le("住所: 〒160-0022 東京都新宿区新宿3丁目10番11号 / 1931/2/11"),
        );
        w("clean.txt", "引継ぎメモ: 特になし".as_bytes().to_vec());
        let mut zw = zip::ZipWriter::new(std::fs::File::create(dir.path().join("b.xlsx")).unwrap());
        zw.start_file(
            "xl/sharedStrings.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zw.write_all("<si><t>東京都新宿区新宿5-19-20</t></si><si><t>試験二郎</t></si>".as_bytes())
            .unwrap();
        zw.finish().unwrap();
        type Found = Vec<(String, u64, Enc, Kind, Vec<String>)>;
        let found_in = |r: &Report| -> Found {
            r.hits
                .iter()
                .map(|h| {
                    let place = Path::new(&h.place).file_name().unwrap().to_string_lossy();
                    (
                        place.into_owned(),
                        h.offset,
                        h.enc,
                        h.kind,
                        h.participants.clone(),
                    )
                })
                .collect()
        };
        let run = |batches: usize| -> (Found, Counts, usize) {
            let search = search_of(&sources, batches as u64);
            assert_eq!(search.batches(), batches);
            let (r, c) = search.scan(&[], |s| s.folder(dir.path(), true)).unwrap();
            let found = found_in(&r);
            // Read once, scanned per batch's worth as read: the same hits.
            let checked = search.check(&[], |s| s.folder(dir.path(), true)).unwrap();
            assert_eq!(found_in(&checked), found, "{batches} batches, read once");
            // Beyond the fixed tables (the index by first two bytes, the filters).
            let fixed = 4 * ((1 << 16) + 1) + 3 * 8 * (1 << 10);
            let biggest = (0..batches)
                .map(|k| {
                    let n = search.make(k).unwrap();
                    assert!(n.participant_count() <= 2 * 40 / batches, "{batches}");
                    n.heap_bytes() - fixed
                })
                .max()
                .unwrap();
            assert_eq!(r.files, 5);
            (found, c, biggest)
        };
        let (one, counts, whole) = run(1);
        for batches in [3, 7] {
            let (found, c, biggest) = run(batches);
            assert_eq!(found, one, "{batches} batches");
            assert_eq!(
                (
                    c.values,
                    &c.values_by_kind,
                    c.skipped_short,
                    c.skipped_handler_names
                ),
                (
                    counts.values,
                    &counts.values_by_kind,
                    counts.skipped_short,
                    counts.skipped_handler_names
                ),
                "{batches} batches"
            );
            assert!(
                biggest * batches < whole * 2,
                "{batches}: {biggest} of {whole} bytes"
            );
        }
        let ids = |place: &str| -> Vec<String> {
            let mut v: Vec<String> = one
                .iter()
                .filter(|h| h.0 == place)
                .flat_map(|h| h.4.clone())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        assert_eq!(
            ids("ids.csv"),
            ["P0000", "P0005", "P0012", "P0027", "P0039"]
        );
        assert_eq!(ids("sjis.csv"), ["P0002", "P0004", "P0007", "P0031"]);
        assert!(one
            .iter()
            .any(|h| h.0 == "sjis.csv" && h.4 == ["P0002", "P0031"]));
        assert_eq!(ids("memo.txt"), ["P0001", "P0009"]);
        assert_eq!(ids("sharedStrings.xml"), ["P0001", "P0018"]);
        assert_eq!(
            counts.skipped_handler_names, 1,
            "P0000's name is a handler's"
        );
        assert!(counts.values >= 40 * 7, "{counts:?}");
    }

    /// The CP932 bytes looked up per character are those `encoding_rs` writes for the
    /// whole text, and what it cannot write is refused the same.
    #[test]
    fn cp932_per_character_is_encoding_rs() {
        for text in [
            "山田 太郎",
            "ﾔﾏﾀﾞ ﾀﾛｳ",
            "〒160-0022 東京都新宿区西新宿２－８－１",
            "髙橋①Ⅱ㈱～－¥‾\\~",
            "𠮷野家",
            "😀",
            "ok",
        ] {
            let (want, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
            // Twice: the second time from the characters looked up the first.
            for _ in 0..2 {
                let mut got = Vec::new();
                let ok = cp932_into(text, &mut got);
                assert_eq!(ok, !bad, "{text}");
                if ok {
                    assert_eq!(got, want.as_ref(), "{text}");
                }
            }
        }
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

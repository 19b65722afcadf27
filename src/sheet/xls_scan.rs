//! The `.xls` pre-scan: walks an OLE/BIFF8 file the way calamine will, before calamine
//! sees it, and refuses one that would make calamine allocate absurdly or loop.

use std::path::Path;

use anyhow::{anyhow, Result};

use super::guard::{damaged_error, guarded, Ctx, OLE_MAGIC};
use super::{read_error, ReadOptions};

// ---------------------------------------------------------------------------
// .xls pre-scan
//
// calamine's `Xls::new` parses every sheet when the file is opened and builds
// a dense grid spanning each sheet's cells. A BIFF8 cell record carries a
// 16-bit column, so one damaged or hostile record at (65535, 65535) makes it
// allocate 65536 x 65536 cells (137 GB) and the process aborts; a DIMENSIONS
// record with a huge or reversed row range makes it reserve petabytes; a
// cycle in the OLE sector chains makes it loop while growing a buffer. None
// of these is a panic that `catch_unwind` could stop, so before calamine
// sees an .xls we walk the file the same way it will and refuse it if it
// would do any of that. Where calamine would simply fail (an error, or a
// panic we catch) the scan steps aside and lets calamine report it.
// ---------------------------------------------------------------------------

const CFB_ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const CFB_RESERVED: u32 = 0xFFFF_FFFA;
const CFB_DIFSECT: u32 = 0xFFFF_FFFC;
/// Largest grid a real .xls can have (65536 rows x 256 columns).
const XLS_MAX_CELLS: u64 = 65_536 * 256;
/// Columns a real .xls can have (A..IV).
const XLS_MAX_COLS: usize = 256;

/// Why the scan stopped early.
enum Stop {
    /// calamine would return an error or hit a (caught) panic here, before
    /// allocating anything large: let it.
    CalamineFails,
    /// The file is unsafe to hand to calamine.
    Refuse(anyhow::Error),
}

type Scan<T> = std::result::Result<T, Stop>;

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    let lo = le_u32(b, at)?;
    let hi = le_u32(b, at.checked_add(4)?)?;
    Some(u64::from(lo) | (u64::from(hi) << 32))
}

fn u32s(b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Refuse an .xls whose structure would make calamine allocate absurdly or
/// loop, or that has data outside the limits (naming the cell).
pub(super) fn xls_guard(path: &Path, file: &str, opts: &ReadOptions) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| read_error(file, &e))?;
    match guarded(file, || scan_xls(&bytes, file, opts))? {
        Ok(()) | Err(Stop::CalamineFails) => Ok(()),
        Err(Stop::Refuse(e)) => Err(e),
    }
}

fn cfb_broken(file: &str, what: &str) -> Stop {
    Stop::Refuse(damaged_error(
        file,
        "OLE コンテナの構造が壊れています",
        &what,
    ))
}

/// The OLE container as calamine's `Cfb` reads it.
struct CfbView<'d> {
    file: &'d [u8],
    sector_size: usize,
    /// Highest sector id calamine accepts (file length / sector size).
    maxid: usize,
    fats: Vec<u32>,
}

impl<'d> CfbView<'d> {
    /// Sector `id` as calamine's `Sectors::get` returns it (cut short at the
    /// end of the file); `None` where calamine errors or panics.
    fn sector(&self, id: u32) -> Option<&'d [u8]> {
        let id = usize::try_from(id).ok()?;
        if id > self.maxid {
            return None;
        }
        let start = id.checked_add(1)?.checked_mul(self.sector_size)?;
        let end = start.checked_add(self.sector_size)?.min(self.file.len());
        self.file.get(start..end)
    }

    /// Follow a chain like calamine's `get_chain`, but give up once it is
    /// longer than the file has sectors (a cycle).
    fn chain(&self, start: u32, len: usize, what: &str, file: &str) -> Scan<Vec<u8>> {
        let mut out = Vec::new();
        let mut id = start;
        let mut steps = 0usize;
        while id != CFB_ENDOFCHAIN {
            let sector = self.sector(id).ok_or(Stop::CalamineFails)?;
            let take = sector.len().min(len - out.len());
            out.extend_from_slice(sector.get(..take).unwrap_or(&[]));
            if out.len() >= len {
                break;
            }
            id = *self
                .fats
                .get(usize::try_from(id).unwrap_or(usize::MAX))
                .ok_or(Stop::CalamineFails)?;
            steps += 1;
            if steps > self.maxid.saturating_add(1) {
                return Err(cfb_broken(file, what));
            }
        }
        Ok(out)
    }
}

/// Follow a chain in the mini stream (64-byte sectors) like calamine does;
/// a chain leaving the mini stream or longer than it is refused.
fn mini_chain(
    ministream: &[u8],
    minifat: &[u32],
    start: u32,
    len: usize,
    file: &str,
) -> Scan<Vec<u8>> {
    let mut out = Vec::new();
    let mut id = start;
    let mut steps = 0usize;
    while id != CFB_ENDOFCHAIN {
        let at = usize::try_from(id).unwrap_or(usize::MAX).saturating_mul(64);
        let sector = ministream
            .get(at..at.saturating_add(64))
            .ok_or_else(|| cfb_broken(file, "mini stream chain"))?;
        let take = sector.len().min(len - out.len());
        out.extend_from_slice(sector.get(..take).unwrap_or(&[]));
        if out.len() >= len {
            break;
        }
        id = *minifat
            .get(usize::try_from(id).unwrap_or(usize::MAX))
            .ok_or(Stop::CalamineFails)?;
        steps += 1;
        if steps > ministream.len() / 64 + 1 {
            return Err(cfb_broken(file, "mini stream chain"));
        }
    }
    Ok(out)
}

/// A directory entry: (name, start sector, stream length).
type DirEntry = (String, u32, usize);

/// The workbook stream, extracted the way calamine's `Cfb` does it.
fn workbook_stream(bytes: &[u8], file: &str) -> Scan<Vec<u8>> {
    let header = bytes.get(..512).ok_or(Stop::CalamineFails)?;
    if !header.starts_with(OLE_MAGIC) {
        return Err(Stop::CalamineFails);
    }
    let large = match le_u16(header, 30) {
        Some(9) => false,
        Some(12) => true,
        _ => return Err(Stop::CalamineFails),
    };
    if le_u16(header, 32) != Some(6) {
        return Err(Stop::CalamineFails);
    }
    let sector_size: usize = if large { 4096 } else { 512 };
    if bytes.len() < sector_size {
        return Err(Stop::CalamineFails);
    }
    let version = le_u16(header, 26).unwrap_or(0);
    let dir_start = le_u32(header, 48).ok_or(Stop::CalamineFails)?;
    let mini_fat_start = le_u32(header, 60).ok_or(Stop::CalamineFails)?;
    let mini_fat_len = le_u32(header, 64).ok_or(Stop::CalamineFails)?;
    let difat_start = le_u32(header, 68).ok_or(Stop::CalamineFails)?;
    let mut cfb = CfbView {
        file: bytes,
        sector_size,
        maxid: bytes.len() / sector_size,
        fats: Vec::new(),
    };

    // DIFAT: the header's 109 entries, then a chain of DIFAT sectors whose
    // last entry points at the next one (calamine bounds this loop itself).
    let mut difat: Vec<u32> = u32s(header.get(76..512).unwrap_or(&[])).collect();
    let mut id = difat_start;
    let mut n = 0usize;
    while id < CFB_RESERVED {
        n += 1;
        if n > cfb.maxid.saturating_add(1) {
            return Err(Stop::CalamineFails);
        }
        let sector = cfb.sector(id).ok_or(Stop::CalamineFails)?;
        if sector.len() % 4 != 0 {
            return Err(Stop::CalamineFails);
        }
        difat.extend(u32s(sector));
        id = difat.pop().ok_or(Stop::CalamineFails)?;
    }
    // FAT sectors. A real file lists each at most once; more entries than
    // the file has sectors means a crafted DIFAT (calamine would copy the
    // same sectors over and over).
    let fat_ids: Vec<u32> = difat.into_iter().filter(|&id| id < CFB_DIFSECT).collect();
    if fat_ids.len() > cfb.maxid.saturating_add(1) {
        return Err(cfb_broken(file, "FAT"));
    }
    let mut fats = Vec::new();
    for id in fat_ids {
        let sector = cfb.sector(id).ok_or(Stop::CalamineFails)?;
        if sector.len() % 4 != 0 {
            return Err(Stop::CalamineFails);
        }
        fats.extend(u32s(sector));
    }
    cfb.fats = fats;

    let dir_bytes = cfb.chain(dir_start, usize::MAX, "directory chain", file)?;
    let dirs: Vec<DirEntry> = dir_bytes
        .chunks_exact(128)
        .map(|c| {
            let (name, _, _) = encoding_rs::UTF_16LE.decode(c.get(..64).unwrap_or(&[]));
            let mut name = name.into_owned();
            if let Some(nul) = name.as_bytes().iter().position(|&b| b == 0) {
                name.truncate(nul);
            }
            let start = le_u32(c, 116).unwrap_or(CFB_ENDOFCHAIN);
            let len = if large {
                le_u64(c, 120).and_then(|v| usize::try_from(v).ok())
            } else {
                le_u32(c, 120).and_then(|v| usize::try_from(v).ok())
            };
            (name, start, len.unwrap_or(usize::MAX))
        })
        .collect();
    let root = dirs.first().ok_or(Stop::CalamineFails)?;
    if version != 3 && root.1 == CFB_ENDOFCHAIN {
        return Err(Stop::CalamineFails);
    }
    let (ministream, minifat) = if mini_fat_len > 0 {
        let ministream = cfb.chain(root.1, root.2, "mini stream", file)?;
        let fat_len = usize::try_from(mini_fat_len)
            .unwrap_or(usize::MAX)
            .saturating_mul(sector_size);
        let minifat: Vec<u32> =
            u32s(&cfb.chain(mini_fat_start, fat_len, "mini FAT", file)?).collect();
        (ministream, minifat)
    } else {
        (Vec::new(), Vec::new())
    };

    // calamine tries "Workbook", then (on any failure) "Book".
    let mut last = Err(Stop::CalamineFails);
    for wanted in ["Workbook", "Book"] {
        let Some((_, start, len)) = dirs
            .iter()
            .find(|d| d.0.as_bytes().eq_ignore_ascii_case(wanted.as_bytes()))
        else {
            continue;
        };
        let stream = if *len < 4096 {
            mini_chain(&ministream, &minifat, *start, *len, file)
        } else {
            cfb.chain(*start, *len, "workbook stream", file)
        };
        match stream {
            Ok(s) => return Ok(s),
            Err(Stop::Refuse(e)) => return Err(Stop::Refuse(e)),
            Err(Stop::CalamineFails) => last = Err(Stop::CalamineFails),
        }
    }
    last
}

/// One BIFF record as calamine's `RecordIter` yields it (CONTINUE records
/// that follow are skipped over with it). `None` at the end, `Some(None)`
/// where calamine reports an error.
fn next_record<'s>(s: &mut &'s [u8]) -> Option<Option<(u16, &'s [u8])>> {
    if s.len() < 4 {
        return if s.is_empty() { None } else { Some(None) };
    }
    let typ = le_u16(s, 0)?;
    let len = usize::from(le_u16(s, 2)?);
    if s.len() < len + 4 {
        return Some(None);
    }
    let (rec, rest) = s.split_at(len + 4);
    *s = rest;
    let data = rec.get(4..).unwrap_or(&[]);
    if rest.len() > 4 && le_u16(rest, 0) == Some(0x003C) {
        while s.len() > 4 && le_u16(s, 0) == Some(0x003C) {
            let l = usize::from(le_u16(s, 2).unwrap_or(0));
            if s.len() < l + 4 {
                return Some(None);
            }
            *s = s.get(l + 4..).unwrap_or(&[]);
        }
    }
    Some(Some((typ, data)))
}

/// Sheet name from a BoundSheet8 record, for messages only.
fn bound_sheet_name(data: &[u8], biff8: bool, index: usize) -> String {
    let fallback = || format!("シート{}", index + 1);
    let Some(&cch) = data.get(6) else {
        return fallback();
    };
    let cch = usize::from(cch);
    if biff8 {
        let high = data.get(7).is_some_and(|f| f & 1 != 0);
        if high {
            let units: Vec<u16> = data
                .get(8..)
                .unwrap_or(&[])
                .chunks_exact(2)
                .take(cch)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        } else {
            data.get(8..)
                .unwrap_or(&[])
                .iter()
                .take(cch)
                .map(|&b| char::from(b))
                .collect()
        }
    } else {
        let raw = data.get(7..).unwrap_or(&[]);
        let raw = raw.get(..cch.min(raw.len())).unwrap_or(&[]);
        encoding_rs::SHIFT_JIS
            .decode_without_bom_handling(raw)
            .0
            .into_owned()
    }
}

/// Walk the workbook stream like calamine's `parse_workbook` and check every
/// sheet's DIMENSIONS and cell positions before calamine allocates for them.
fn scan_xls(bytes: &[u8], file: &str, opts: &ReadOptions) -> Scan<()> {
    let stream = workbook_stream(bytes, file)?;

    // Globals substream: sheet positions, until EOF.
    let mut sheets: Vec<(usize, String)> = Vec::new();
    let mut biff8 = true;
    let mut rest = stream.as_slice();
    while let Some(rec) = next_record(&mut rest) {
        let (typ, data) = rec.ok_or(Stop::CalamineFails)?;
        match typ {
            // FilePass: encrypted; calamine reports it (or fails) itself.
            0x002F => return Err(Stop::CalamineFails),
            0x0809 => {
                let version = le_u16(data, 0);
                let old = matches!(
                    version,
                    Some(0x0200 | 0x0002 | 0x0007 | 0x0300 | 0x0400 | 0x0500)
                );
                let biff5_by_type = version == Some(0) && le_u16(data, 2) == Some(0x1000);
                biff8 = !(old || biff5_by_type);
            }
            0x0085 => {
                if data.len() < 6 {
                    return Err(Stop::CalamineFails);
                }
                let pos = le_u32(data, 0).ok_or(Stop::CalamineFails)?;
                let name = bound_sheet_name(data, biff8, sheets.len());
                sheets.push((usize::try_from(pos).unwrap_or(usize::MAX), name));
            }
            0x000A => break,
            _ => {}
        }
    }

    let col_limit = opts.max_cols.min(XLS_MAX_COLS);
    for (pos, name) in sheets {
        // calamine slices the stream here and panics past its end.
        let mut rest = stream.get(pos..).ok_or(Stop::CalamineFails)?;
        let ctx = Ctx {
            file,
            sheet: name,
            max_rows: opts.max_rows,
            max_cols: col_limit,
        };
        let check = |row: u64, col: u64| ctx.check(row, col).map_err(Stop::Refuse);
        let mut seen_bof = false;
        let mut depth = 0usize;
        let mut fmla_pos = (0u16, 0u16);
        while let Some(rec) = next_record(&mut rest) {
            let (typ, data) = rec.ok_or(Stop::CalamineFails)?;
            if depth > 0 {
                match typ {
                    0x0809 => depth += 1,
                    0x000A => depth -= 1,
                    _ => {}
                }
                continue;
            }
            let rc = || Some((le_u16(data, 0)?, le_u16(data, 2)?));
            match typ {
                0x0809 => {
                    if seen_bof {
                        depth += 1;
                    } else {
                        seen_bof = true;
                    }
                }
                0x0200 => check_dimensions(data, &ctx)?,
                // Number, Label, RString, BoolErr, Rk, LabelSst.
                0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD => {
                    let min_len = match typ {
                        0x0203 => 14,
                        0x0205 => 8,
                        0x027E | 0x00FD => 10,
                        _ => 6,
                    };
                    if data.len() < min_len {
                        return Err(Stop::CalamineFails);
                    }
                    let (r, c) = rc().ok_or(Stop::CalamineFails)?;
                    check(u64::from(r), u64::from(c))?;
                }
                // MulRk: row, first column, 6 bytes per cell, last column.
                0x00BD => {
                    if data.len() < 6 {
                        return Err(Stop::CalamineFails);
                    }
                    let (r, first) = rc().ok_or(Stop::CalamineFails)?;
                    let last = le_u16(data, data.len() - 2).ok_or(Stop::CalamineFails)?;
                    let Some(span) = last.checked_sub(first) else {
                        return Err(Stop::CalamineFails);
                    };
                    if data.len() != 6 + 6 * (usize::from(span) + 1) {
                        return Err(Stop::CalamineFails);
                    }
                    let count = (data.len() - 6) / 6;
                    if count > 0 {
                        check(u64::from(r), u64::from(first) + count as u64 - 1)?;
                    }
                }
                // Formula (its value may follow in a String record).
                0x0006 => {
                    if data.len() < 20 {
                        return Err(Stop::CalamineFails);
                    }
                    fmla_pos = rc().ok_or(Stop::CalamineFails)?;
                    check(u64::from(fmla_pos.0), u64::from(fmla_pos.1))?;
                }
                0x0207 => check(u64::from(fmla_pos.0), u64::from(fmla_pos.1))?,
                0x000A => break,
                _ => {}
            }
        }
    }
    Ok(())
}

/// A DIMENSIONS record makes calamine reserve rows x columns cells, with
/// plain (overflowing) u32 arithmetic: refuse reversed or oversized ones.
fn check_dimensions(data: &[u8], ctx: &Ctx<'_>) -> Scan<()> {
    let (rf, rl, cf, cl) = match data.len() {
        10 => (
            le_u16(data, 0).map(u32::from),
            le_u16(data, 2).map(u32::from),
            le_u16(data, 4).map(u32::from),
            le_u16(data, 6).map(u32::from),
        ),
        14 | 16 => (
            le_u32(data, 0),
            le_u32(data, 4),
            le_u16(data, 8).map(u32::from),
            le_u16(data, 10).map(u32::from),
        ),
        _ => return Err(Stop::CalamineFails),
    };
    let (Some(rf), Some(rl), Some(mut cf), Some(cl)) = (rf, rl, cf, cl) else {
        return Err(Stop::CalamineFails);
    };
    if 0xFF < cf || cl < cf {
        cf = 0;
    }
    let (start, end) = if rl >= 1 && cl >= 1 {
        ((rf, cf), (rl - 1, cl - 1))
    } else {
        ((rf, cf), (rf, cf))
    };
    let rows = i64::from(end.0) - i64::from(start.0) + 1;
    let cols = i64::from(end.1) - i64::from(start.1) + 1;
    if rows <= 0 || cols <= 0 || rows.saturating_mul(cols) > XLS_MAX_CELLS as i64 {
        let (file, sheet) = (ctx.file, &ctx.sheet);
        return Err(Stop::Refuse(anyhow!(
            "{file}: シート「{sheet}」の範囲情報が壊れています（{rows} 行 × {cols} 列）。\
             Excel で開き直して「Excel ブック (*.xlsx)」として保存し直してください。 \
             (sheet dimensions record is damaged)"
        )));
    }
    Ok(())
}

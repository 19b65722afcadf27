//! A keying's entries in (participant, date, place) order without holding them all: they
//! are gathered in a bounded buffer, each full buffer is sorted and written to one
//! unlinked temporary file as a run, and the runs are merged back in order. A keying
//! that fits in one buffer never touches the disk.
//!
//! On disk an entry is 31 bytes (participant index, day, place, steps) plus the keyed
//! text only where it differs from the number, so a program year of 10⁵ participants
//! (3.5×10⁷ days) spills about 1.1 GB per keying and holds about 30 MiB in memory.

use super::{BadVal, Entry, Val};
use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};

/// Entries held before a run is sorted and spilled (about 56 bytes each).
pub const CHUNK: usize = 256 * 1024;

/// Memory shared by the read buffers of all runs being merged.
const MERGE_BUFFERS: usize = 4 << 20;

/// The order entries are compared and reported in: participant, day, then where the
/// entry stands in the file (so the first keying of a day comes first).
pub fn key(e: &Entry) -> (u32, NaiveDate, u32, u32, u16) {
    (e.pid, e.date, e.sheet, e.row, e.col)
}

/// The entries of one keying, some in memory and the rest in sorted runs on disk.
#[derive(Debug)]
pub struct Store {
    chunk: usize,
    mem: Vec<Entry>,
    file: Option<Spill>,
    /// (start, end) byte offsets of each run in the file.
    runs: Vec<(u64, u64)>,
    /// The problem codes of unreadable steps cells, by index (they are `&'static str`).
    codes: Vec<&'static str>,
    pub len: u64,
}

#[derive(Debug)]
struct Spill {
    w: BufWriter<File>,
    at: u64,
}

impl Default for Store {
    fn default() -> Self {
        Store::with_chunk(CHUNK)
    }
}

impl Store {
    pub fn with_chunk(chunk: usize) -> Self {
        Store {
            chunk: chunk.max(1),
            mem: Vec::new(),
            file: None,
            runs: Vec::new(),
            codes: Vec::new(),
            len: 0,
        }
    }

    pub fn push(&mut self, e: Entry) -> Result<()> {
        if self.mem.capacity() == 0 {
            self.mem.reserve_exact(self.chunk.min(4096));
        }
        if self.mem.len() >= self.chunk {
            self.spill()?;
        }
        if self.mem.len() == self.mem.capacity() {
            // Grow by doubling up to the chunk, never past it.
            let want = (self.mem.capacity() * 2).min(self.chunk) - self.mem.len();
            self.mem.reserve_exact(want.max(1));
        }
        self.mem.push(e);
        self.len += 1;
        Ok(())
    }

    /// Reading is over: a store that has spilled spills its last buffer now, so that it
    /// holds no entries in memory while the other keying is read (the merge's order
    /// does not depend on where runs end: entries' keys are distinct).
    pub fn finish(&mut self) -> Result<()> {
        if self.file.is_some() {
            self.spill()?;
            self.mem = Vec::new();
        }
        Ok(())
    }

    /// Sort the buffer and write it as one run.
    fn spill(&mut self) -> Result<()> {
        if self.mem.is_empty() {
            return Ok(());
        }
        self.mem.sort_unstable_by_key(key);
        if self.file.is_none() {
            self.file = Some(Spill {
                w: BufWriter::with_capacity(1 << 16, crate::output::anonymous_temp("照合用")?),
                at: 0,
            });
        }
        let Some(sp) = self.file.as_mut() else {
            unreachable!("the spill file was just opened")
        };
        let start = sp.at;
        let mut buf = Vec::with_capacity(64);
        for e in self.mem.drain(..) {
            buf.clear();
            encode(&e, &mut self.codes, &mut buf);
            sp.w.write_all(&buf)
                .context("照合用の一時ファイルに書けません。一時フォルダの空き容量を確かめてください (temporary file)")?;
            sp.at += buf.len() as u64;
        }
        self.runs.push((start, sp.at));
        Ok(())
    }

    /// Every entry in [`key`] order. A store that spilled spills its last buffer too, so
    /// that merging holds only the runs' read buffers.
    pub fn sorted(mut self) -> Result<Sorted> {
        if self.file.is_none() {
            self.mem.sort_unstable_by_key(key);
            return Ok(Sorted(Inner::Mem(
                std::mem::take(&mut self.mem).into_iter(),
            )));
        }
        self.spill()?;
        self.mem = Vec::new();
        let Some(sp) = self.file.take() else {
            unreachable!("spilled above")
        };
        let file =
            sp.w.into_inner()
                .map_err(|e| e.into_error())
                .context("照合用の一時ファイルに書けません (temporary file)")?;
        let file = std::rc::Rc::new(file);
        let cap = (MERGE_BUFFERS / self.runs.len().max(1)).clamp(4096, 1 << 16);
        let mut readers: Vec<Run> = self
            .runs
            .iter()
            .map(|&(start, end)| Run {
                file: file.clone(),
                buf: Vec::with_capacity(cap),
                pos: 0,
                at: start,
                end,
                cap,
            })
            .collect();
        let mut heap = BinaryHeap::with_capacity(readers.len());
        let codes = std::mem::take(&mut self.codes);
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(e) = r.next(&codes)? {
                heap.push(Reverse(Head(key(&e), i, e)));
            }
        }
        Ok(Sorted(Inner::Runs {
            readers,
            heap,
            codes,
        }))
    }
}

const RAW: u8 = 1;
const BAD: u8 = 2;

fn put_str(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn encode(e: &Entry, codes: &mut Vec<&'static str>, out: &mut Vec<u8>) {
    out.extend_from_slice(&e.pid.to_le_bytes());
    out.extend_from_slice(&e.date.num_days_from_ce().to_le_bytes());
    out.extend_from_slice(&e.sheet.to_le_bytes());
    out.extend_from_slice(&e.row.to_le_bytes());
    out.extend_from_slice(&e.col.to_le_bytes());
    out.extend_from_slice(&e.date_col.to_le_bytes());
    out.extend_from_slice(&e.pid_col.to_le_bytes());
    let mut tag = 0;
    if e.raw.is_some() {
        tag |= RAW;
    }
    if matches!(e.val, Val::Bad(_)) {
        tag |= BAD;
    }
    out.push(tag);
    match &e.val {
        Val::Int(v) => out.extend_from_slice(&v.to_le_bytes()),
        Val::Bad(b) => {
            let idx = match codes.iter().position(|c| *c == b.code) {
                Some(i) => i,
                None => {
                    codes.push(b.code);
                    codes.len() - 1
                }
            };
            out.extend_from_slice(&(idx as u32).to_le_bytes());
            put_str(&b.message, out);
            put_str(&b.norm, out);
        }
    }
    if let Some(r) = &e.raw {
        put_str(r, out);
    }
}

/// A sorted run read back through its own small buffer.
struct Run {
    file: std::rc::Rc<File>,
    buf: Vec<u8>,
    pos: usize,
    at: u64,
    end: u64,
    cap: usize,
}

impl Run {
    /// Make `n` bytes available at `pos`; false at the end of the run.
    fn fill(&mut self, n: usize) -> Result<bool> {
        if self.buf.len() - self.pos >= n {
            return Ok(true);
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        let want = (self.cap.max(n) - self.buf.len()) as u64;
        let take = want.min(self.end - self.at) as usize;
        if take > 0 {
            let old = self.buf.len();
            self.buf.resize(old + take, 0);
            read_at(&self.file, &mut self.buf[old..], self.at)
                .context("照合用の一時ファイルを読めません (temporary file)")?;
            self.at += take as u64;
        }
        Ok(self.buf.len() >= n)
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8]> {
        if !self.fill(n)? {
            anyhow::bail!("照合用の一時ファイルが途中で切れています (temporary file truncated)");
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn string(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        Ok(String::from_utf8_lossy(self.bytes(n)?).into_owned())
    }

    fn next(&mut self, codes: &[&'static str]) -> Result<Option<Entry>> {
        if !self.fill(1)? {
            return Ok(None);
        }
        let pid = self.u32()?;
        let days = self.u32()? as i32;
        let date = NaiveDate::from_num_days_from_ce_opt(days)
            .context("照合用の一時ファイルが壊れています (temporary file)")?;
        let sheet = self.u32()?;
        let row = self.u32()?;
        let col = self.u16()?;
        let date_col = self.u16()?;
        let pid_col = self.u16()?;
        let tag = self.bytes(1)?[0];
        let val = if tag & BAD != 0 {
            let code = codes
                .get(self.u32()? as usize)
                .copied()
                .unwrap_or("steps.not_a_number");
            let message = self.string()?;
            let norm = self.string()?;
            Val::Bad(Box::new(BadVal {
                code,
                message,
                norm,
            }))
        } else {
            let b = self.bytes(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Val::Int(i64::from_le_bytes(a))
        };
        let raw = if tag & RAW != 0 {
            Some(self.string()?.into_boxed_str())
        } else {
            None
        };
        Ok(Some(Entry {
            pid,
            date,
            val,
            raw,
            sheet,
            row,
            col,
            date_col,
            pid_col,
        }))
    }
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, at)
}

#[cfg(windows)]
fn read_at(f: &File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(f, buf, at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        at += n as u64;
    }
    Ok(())
}

/// The head entry of a run in the merge heap, ordered by its key then run.
struct Head((u32, NaiveDate, u32, u32, u16), usize, Entry);

impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

/// A keying's entries in [`key`] order.
pub struct Sorted(Inner);

enum Inner {
    Mem(std::vec::IntoIter<Entry>),
    Runs {
        readers: Vec<Run>,
        heap: BinaryHeap<Reverse<Head>>,
        codes: Vec<&'static str>,
    },
}

impl Sorted {
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        match &mut self.0 {
            Inner::Mem(it) => Ok(it.next()),
            Inner::Runs {
                readers,
                heap,
                codes,
            } => {
                let Some(Reverse(Head(_, i, e))) = heap.pop() else {
                    return Ok(None);
                };
                if let Some(n) = readers[i].next(codes)? {
                    heap.push(Reverse(Head(key(&n), i, n)));
                }
                Ok(Some(e))
            }
        }
    }
}

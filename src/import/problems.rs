//! An import's problems, never all held: the driver counts them, keeps the first few
//! for the terminal, and (when a report or `--partial` needs every one) writes each to a
//! spool file as it is found. Problems the row handler finds only after the last row
//! (a day keyed twice with different values) are held, sorted, and merged into file
//! order when the problems are read back, as often as they are needed.
//!
//! Memory is bounded by [`SHOWN`] problems plus the handler's late ones, whatever the
//! size of the file; the spool grows on disk instead (about 200 bytes a problem).

use crate::validate::Problem;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

/// How many problems the terminal shows.
pub const SHOWN: usize = 20;

/// Every problem of one import, streamed.
pub struct ProblemLog {
    total: u64,
    first: Vec<Problem>,
    spool: Option<Spool>,
    late: Vec<Problem>,
    sheets: Vec<String>,
    by_code: HashMap<&'static str, u64>,
}

struct Spool {
    file: BufWriter<File>,
    /// Removed on drop where the system would not remove it while open.
    path: Option<PathBuf>,
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl ProblemLog {
    /// A log for the problems of `sheets` (read in this order). With `spool_dir`, every
    /// problem is written to a spool file there (removed at once where the system
    /// allows, else when the log is dropped), so it can be read back in full.
    pub fn new(sheets: &[String], spool_dir: Option<&Path>) -> Result<ProblemLog> {
        let spool = match spool_dir {
            None => None,
            Some(dir) => {
                let name = format!(
                    ".stepcard-problems-{}-{}.tmp",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(0)
                );
                let path = dir.join(name);
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .with_context(|| {
                        format!(
                            "{}: 誤りの一覧の作業ファイルを作れません。書き込める場所か確かめてください (cannot create a spool file)",
                            dir.display()
                        )
                    })?;
                // Unlinked while open, nothing is left behind even if the import dies.
                let path = std::fs::remove_file(&path).err().map(|_| path);
                Some(Spool {
                    file: BufWriter::with_capacity(1 << 16, file),
                    path,
                })
            }
        };
        Ok(ProblemLog {
            total: 0,
            first: Vec::new(),
            spool,
            late: Vec::new(),
            sheets: sheets.to_vec(),
            by_code: HashMap::new(),
        })
    }

    /// A problem found while reading, in file order.
    pub fn push(&mut self, p: Problem) -> Result<()> {
        self.total += 1;
        *self.by_code.entry(p.code).or_default() += 1;
        if let Some(s) = &mut self.spool {
            serde_json::to_writer(
                &mut s.file,
                &(
                    &p.sheet, p.row, p.col, &p.column, &p.raw, p.code, &p.message,
                ),
            )?;
            s.file.write_all(b"\n")?;
        }
        if self.first.len() < SHOWN {
            self.first.push(p);
        }
        Ok(())
    }

    /// Problems found after the last row, in any order.
    pub fn push_late(&mut self, mut late: Vec<Problem>) {
        for p in &late {
            self.total += 1;
            *self.by_code.entry(p.code).or_default() += 1;
        }
        late.sort_by_key(|p| self.key(p));
        self.late = late;
    }

    fn key(&self, p: &Problem) -> (usize, u32) {
        let sheet = self.sheets.iter().position(|s| *s == p.sheet).unwrap_or(0);
        (sheet, p.row.unwrap_or(0))
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many problems of each code, by code.
    pub fn by_code(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = self.by_code.iter().map(|(c, n)| (*c, *n)).collect();
        v.sort();
        v
    }

    /// How many problems had this code.
    pub fn count_of(&self, code: &str) -> u64 {
        self.by_code.get(code).copied().unwrap_or(0)
    }

    /// Every problem in file order (a late problem after the ones found on its row
    /// while reading). Needs the spool unless every problem was kept in memory.
    pub fn for_each(&mut self, mut f: impl FnMut(&Problem) -> Result<()>) -> Result<()> {
        let f = &mut f as &mut dyn FnMut(&Problem) -> Result<()>;
        let in_memory = self.first.len() as u64 + self.late.len() as u64 == self.total;
        let mut late = 0;
        let mut emit_late_before =
            |log: &ProblemLog, p: Option<&Problem>, f: &mut dyn FnMut(&Problem) -> Result<()>| {
                while let Some(l) = log.late.get(late) {
                    if p.is_some_and(|p| log.key(l) >= log.key(p)) {
                        break;
                    }
                    f(l)?;
                    late += 1;
                }
                anyhow::Ok(())
            };
        let spooled = match self.spool.as_mut() {
            Some(s) => {
                s.file.flush()?;
                let mut file = s.file.get_ref().try_clone()?;
                file.rewind()?;
                Some(file)
            }
            None => None,
        };
        if let Some(file) = spooled {
            // The clone shares the offset: it is put back at the end for more writes.
            let mut reader = BufReader::with_capacity(1 << 16, file);
            let mut line = String::new();
            let mut interned: HashMap<String, &'static str> = HashMap::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    break;
                }
                let (sheet, row, col, column, raw, code, message): (
                    String,
                    Option<u32>,
                    Option<usize>,
                    String,
                    String,
                    String,
                    String,
                ) = serde_json::from_str(&line)?;
                let code = intern(&mut interned, code);
                let p = Problem {
                    sheet,
                    row,
                    col,
                    column,
                    raw,
                    code,
                    message,
                };
                emit_late_before(self, Some(&p), f)?;
                f(&p)?;
            }
            let mut file = reader.into_inner();
            file.seek(std::io::SeekFrom::End(0))?;
        } else {
            anyhow::ensure!(
                in_memory,
                "internal: problems were not spooled and cannot be listed in full"
            );
            for p in &self.first {
                emit_late_before(self, Some(p), f)?;
                f(p)?;
            }
        }
        emit_late_before(self, None, f)?;
        Ok(())
    }

    /// The first [`SHOWN`] problems in file order, for the terminal.
    pub fn first(&mut self) -> Result<Vec<Problem>> {
        let mut out = Vec::new();
        if self.spool.is_some() {
            // Stop early: reading the whole spool for the first few is wasted.
            let r = self.for_each(|p| {
                if out.len() >= SHOWN {
                    anyhow::bail!(Stop);
                }
                out.push(p.clone());
                Ok(())
            });
            match r {
                Err(e) if e.is::<Stop>() => {}
                r => r?,
            }
            if let Some(s) = self.spool.as_mut() {
                s.file.get_mut().seek(std::io::SeekFrom::End(0))?;
            }
        } else {
            let mut all: Vec<Problem> = self.first.iter().chain(&self.late).cloned().collect();
            all.sort_by_key(|p| self.key(p));
            all.truncate(SHOWN);
            out = all;
        }
        Ok(out)
    }
}

#[derive(Debug)]
struct Stop;
impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stop")
    }
}
impl std::error::Error for Stop {}

/// The table's `&'static str` for a code read back (an unknown one kept once).
fn intern(seen: &mut HashMap<String, &'static str>, code: String) -> &'static str {
    if let Some(c) = crate::validate::lookup(&code) {
        return c.code;
    }
    if let Some(c) = seen.get(&code) {
        return c;
    }
    let leaked: &'static str = Box::leak(code.clone().into_boxed_str());
    seen.insert(code, leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(sheet: &str, row: u32, code: &'static str) -> Problem {
        Problem {
            sheet: sheet.into(),
            row: Some(row),
            col: Some(0),
            column: "c".into(),
            raw: "r\n\"x\"".into(),
            code,
            message: format!("m{row}"),
        }
    }

    fn rows(log: &mut ProblemLog) -> Vec<(String, u32)> {
        let mut v = Vec::new();
        log.for_each(|p| {
            v.push((p.sheet.clone(), p.row.unwrap()));
            Ok(())
        })
        .unwrap();
        v
    }

    #[test]
    fn late_problems_are_merged_in_file_order_with_or_without_a_spool() {
        let dir = tempfile::tempdir().unwrap();
        let sheets = vec!["A".to_string(), "B".to_string()];
        for spool in [None, Some(dir.path())] {
            let mut log = ProblemLog::new(&sheets, spool).unwrap();
            for (s, r) in [("A", 2), ("A", 5), ("B", 3)] {
                log.push(p(s, r, "steps.negative")).unwrap();
            }
            log.push_late(vec![
                p("B", 1, "steps.duplicate_conflict"),
                p("A", 5, "steps.duplicate_conflict"),
                p("A", 1, "steps.duplicate_conflict"),
            ]);
            let want: Vec<(String, u32)> =
                [("A", 1), ("A", 2), ("A", 5), ("A", 5), ("B", 1), ("B", 3)]
                    .iter()
                    .map(|(s, r)| (s.to_string(), *r))
                    .collect();
            assert_eq!(rows(&mut log), want);
            // Read back twice: the same.
            assert_eq!(rows(&mut log), want);
            assert_eq!(log.total(), 6);
            assert_eq!(log.count_of("steps.duplicate_conflict"), 3);
            assert_eq!(log.first().unwrap().len(), 6);
        }
        // Nothing left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn only_the_first_few_are_held_and_the_spool_keeps_every_one() {
        let dir = tempfile::tempdir().unwrap();
        let sheets = vec!["S".to_string()];
        let mut log = ProblemLog::new(&sheets, Some(dir.path())).unwrap();
        for r in 0..10_000 {
            log.push(p("S", r, "date.out_of_period")).unwrap();
        }
        assert_eq!(log.first.len(), SHOWN);
        assert_eq!(rows(&mut log).len(), 10_000);
        let first = log.first().unwrap();
        assert_eq!(first.len(), SHOWN);
        assert_eq!(first[3].raw, "r\n\"x\"");
        assert_eq!(first[3].code, "date.out_of_period");
        // More may be pushed after reading back.
        log.push(p("S", 10_001, "date.out_of_period")).unwrap();
        assert_eq!(rows(&mut log).len(), 10_001);
    }
}

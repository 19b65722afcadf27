//! The second look at participants: a few figures (a standard deviation, a total made
//! of two groups one after the other) need every participant's values again, in order,
//! after the first pass. Reading the steps a second time would double the report's
//! time, so each participant with steps leaves one fixed 25-byte record (their groups,
//! their mean, their first and last month's means; no number, no name) in an unlinked
//! temporary file, read back in the same order as often as needed. Memory stays one
//! buffer whatever the number of participants; the file is gone when the report is.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// What the second look needs of one participant with steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rec {
    /// `SexGroup as usize`
    pub sex: u8,
    /// `AgeBand as usize`
    pub band: u8,
    /// 0 none, 1 + `TargetGroup as usize`
    pub target: u8,
    /// Mean daily steps over the period.
    pub mean: f64,
    /// First and last month's means, with two months or more.
    pub pair: Option<(f64, f64)>,
}

const LEN: usize = 25;

impl Rec {
    fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = (self.sex & 3)
            | (self.band & 7) << 2
            | (self.target & 3) << 5
            | u8::from(self.pair.is_some()) << 7;
        b[1..9].copy_from_slice(&self.mean.to_le_bytes());
        let (f, l) = self.pair.unwrap_or((0.0, 0.0));
        b[9..17].copy_from_slice(&f.to_le_bytes());
        b[17..25].copy_from_slice(&l.to_le_bytes());
        b
    }

    fn decode(b: &[u8; LEN]) -> Rec {
        let f = |i: usize| f64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        Rec {
            sex: b[0] & 3,
            band: (b[0] >> 2) & 7,
            target: (b[0] >> 5) & 3,
            mean: f(1),
            pair: (b[0] >> 7 == 1).then(|| (f(9), f(17))),
        }
    }
}

/// The records, written once in participant order, then read back whole.
#[derive(Default)]
pub struct Spill {
    file: Option<BufWriter<File>>,
}

impl Spill {
    pub fn push(&mut self, r: &Rec) -> Result<()> {
        if self.file.is_none() {
            let f = crate::output::anonymous_temp("評価報告書の集計")?;
            self.file = Some(BufWriter::with_capacity(1 << 16, f));
        }
        if let Some(w) = &mut self.file {
            w.write_all(&r.encode()).context(WRITE)?;
        }
        Ok(())
    }

    /// Every record in the order pushed.
    pub fn each(&mut self, mut f: impl FnMut(&Rec)) -> Result<()> {
        let Some(w) = &mut self.file else {
            return Ok(());
        };
        w.flush().context(WRITE)?;
        let mut file = w.get_ref();
        file.seek(SeekFrom::Start(0)).context(WRITE)?;
        let mut r = BufReader::with_capacity(1 << 16, file);
        let mut b = [0u8; LEN];
        loop {
            match r.read_exact(&mut b) {
                Ok(()) => f(&Rec::decode(&b)),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e).context(WRITE),
            }
        }
        // Later pushes (none today) would go on at the end.
        file.seek(SeekFrom::End(0)).context(WRITE)?;
        Ok(())
    }
}

const WRITE: &str = "評価報告書の集計用の一時ファイルを読み書きできません。一時フォルダ（TMPDIR）の空きを確かめてください (report temporary file)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_every_time() {
        let recs: Vec<Rec> = (0..20_000u32)
            .map(|i| Rec {
                sex: (i % 3) as u8,
                band: (i % 8) as u8,
                target: (i % 3) as u8,
                mean: f64::from(i) / 7.0,
                pair: (i % 2 == 0).then(|| (f64::from(i) / 3.0, -f64::from(i) / 11.0)),
            })
            .collect();
        let mut s = Spill::default();
        s.each(|_| panic!("nothing pushed")).unwrap();
        for r in &recs {
            s.push(r).unwrap();
        }
        for _ in 0..2 {
            let mut back = Vec::new();
            s.each(|r| back.push(*r)).unwrap();
            assert_eq!(back, recs);
        }
    }
}

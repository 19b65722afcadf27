//! Questionnaire answers (事前・事後アンケート) keyed from paper questionnaires:
//! `参加者番号, 回答時期, <question codes>…`, one row per participant and timing.
//!
//! The question columns are the ones the program file declares (`[[survey.questions]]`),
//! headed by the code (`Q1`) or the question's text; any other column is refused like
//! any unknown column. Each answer must fit its question's kind: `scale5` takes 1〜5,
//! `yesno` はい/いいえ (also 1/2, yes/no, ○/×), `choice` one of its choices, as text or
//! as its number (1 = the first). An empty cell is a question left unanswered.
//!
//! A row is one questionnaire and is taken whole or not at all, so a rejected row kept
//! by `--partial` can be fixed and imported again without half of it already stored.
//! The same answer keyed again is a duplicate (skipped); a different one is
//! `survey.conflict` (stored earlier) or `survey.duplicate_conflict` (twice in this
//! file, and then neither row is taken).

use super::header::Header;
use super::{Counts, Problem};
use crate::db::survey;
use crate::program::{Program, Question};
use crate::sheet::Row;
use crate::validate::fields::problem;
use crate::validate::survey::{check_header, read_row, Questionnaire};
pub use crate::validate::survey::{columns, parse_answer, parse_timing, Timing};
use anyhow::Result;
use rusqlite::Connection;
use std::collections::{BTreeMap, HashSet};

/// The first row of this file for a participant and timing, kept (in a table dropped
/// before the commit, `db::survey::seen_*`) so that a second, different row can take it back out.
#[derive(serde::Serialize, serde::Deserialize)]
struct FirstRow {
    sheet: String,
    row: u32,
    cells: Vec<String>,
    answers: BTreeMap<String, String>,
    inserted: u64,
    duplicates: u64,
}

/// The survey import's row handler.
pub struct SurveyImporter {
    questions: Vec<Question>,
    participants: HashSet<String>,
    batch: i64,
    counts: Counts,
    /// Whether the table of first rows has been emptied for this import. (Keys keyed
    /// twice differently in this file are poisoned there: every further row for them is
    /// refused.)
    seen_ready: bool,
    extra_rejects: Vec<(String, u32, Vec<String>)>,
    /// Questionnaires (participant and timing) stored, per timing.
    pub respondents: BTreeMap<Timing, u64>,
}

impl SurveyImporter {
    pub fn new(program: &Program, participants: HashSet<String>, batch: i64) -> Self {
        SurveyImporter {
            questions: program.survey.questions.clone(),
            participants,
            batch,
            counts: Counts::default(),
            seen_ready: false,
            extra_rejects: Vec::new(),
            respondents: BTreeMap::new(),
        }
    }
}

impl super::batch::RowHandler for SurveyImporter {
    fn refused_unread(&mut self) {
        self.counts.rows += 1;
    }

    fn header(&mut self, h: &Header) -> Vec<Problem> {
        check_header(h, &self.questions)
    }

    fn row(
        &mut self,
        conn: &Connection,
        h: &Header,
        row: &Row,
        out: &mut Vec<Problem>,
    ) -> Result<()> {
        self.counts.rows += 1;
        if !self.seen_ready {
            survey::seen_reset(conn)?;
            self.seen_ready = true;
        }
        let before = out.len();
        let Some(Questionnaire {
            pid,
            timing,
            answers,
            pid_col: pc,
        }) = read_row(h, row, &self.questions, &self.participants, out)
        else {
            return Ok(());
        };
        let p =
            |col: usize, code: &'static str, message: String| problem(h, row, col, code, message);
        let plain: BTreeMap<String, String> = answers
            .iter()
            .map(|(q, (_, a))| (q.clone(), a.clone()))
            .collect();
        let when = timing.as_ja();

        let seen = survey::seen_get(conn, &pid, when)?;
        if let Some(None) = seen {
            out.push(p(
                pc,
                "survey.duplicate_conflict",
                format!("{pid} の{when}アンケートがこのファイルに何度もあり、回答が違います。回答用紙を確かめて一行にしてください（どの行も取り込んでいません）"),
            ));
            return Ok(());
        }
        if let Some(Some(first)) = seen {
            let first: FirstRow = serde_json::from_str(&first)?;
            if first.answers == plain {
                self.counts.duplicates += plain.len() as u64;
                return Ok(());
            }
            // Keyed twice with different answers: neither row can be trusted, so the
            // first is taken back out and kept with the rejected rows.
            survey::take_back(conn, &pid, when, self.batch)?;
            self.counts.inserted = self.counts.inserted.saturating_sub(first.inserted);
            self.counts.duplicates = self.counts.duplicates.saturating_sub(first.duplicates);
            if first.inserted > 0 {
                if let Some(n) = self.respondents.get_mut(&timing) {
                    *n = n.saturating_sub(1);
                }
            }
            let differ: Vec<&str> = self
                .questions
                .iter()
                .map(|q| q.code.as_str())
                .filter(|q| first.answers.get(*q) != plain.get(*q))
                .collect();
            let msg = |other: u32| {
                format!(
                    "{pid} の{when}アンケートがこのファイルの {other} 行目にもあり、回答が違います（{}）。\
                     回答用紙を確かめて一方を消してください（どちらも取り込んでいません）",
                    differ.join("、")
                )
            };
            out.push(Problem {
                sheet: first.sheet.clone(),
                row: Some(first.row),
                col: Some(pc),
                column: h.heading(pc).to_string(),
                raw: pid.clone(),
                code: "survey.duplicate_conflict",
                message: msg(row.number()),
            });
            out.push(p(pc, "survey.duplicate_conflict", msg(first.row)));
            self.extra_rejects
                .push((first.sheet, first.row, first.cells));
            survey::seen_put(conn, &pid, when, None)?;
            return Ok(());
        }

        // Against what earlier batches stored: the same answer is a duplicate, a
        // different one a conflict (nothing of the row is stored then).
        let mut fresh = Vec::new();
        let mut duplicates = 0u64;
        for (q, (c, a)) in &answers {
            let old = survey::stored(conn, &pid, when, q)?;
            match old {
                None => fresh.push((q, a)),
                Some((old, _)) if &old == a => duplicates += 1,
                Some((old, b)) => out.push(p(
                    *c,
                    "survey.conflict",
                    format!(
                        "{pid} の{when}アンケート {q} に「{a}」と入力されましたが、取込み {b} で「{old}」が取り込まれています。\
                         今回の値が正しければ `stepcard batches undo {b}` で前の取込みを取り消してから取り込み直してください \
                         ({a} keyed, {old} already stored from batch {b})"
                    ),
                )),
            }
        }
        if out.len() > before {
            return Ok(());
        }
        for (q, a) in &fresh {
            survey::insert(conn, &pid, when, q, a, self.batch, row.number())?;
        }
        let inserted = fresh.len() as u64;
        self.counts.inserted += inserted;
        self.counts.duplicates += duplicates;
        if inserted > 0 {
            *self.respondents.entry(timing).or_insert(0) += 1;
        }
        let first = FirstRow {
            sheet: h.sheet.clone(),
            row: row.number(),
            cells: (0..h.width().max(row.len()))
                .map(|c| row.raw_text(c).into_owned())
                .collect(),
            answers: plain,
            inserted,
            duplicates,
        };
        survey::seen_put(conn, &pid, when, Some(&serde_json::to_string(&first)?))?;
        Ok(())
    }

    fn finish(&mut self, conn: &Connection, _out: &mut Vec<Problem>) -> Result<()> {
        if self.seen_ready {
            survey::seen_drop(conn)?;
        }
        Ok(())
    }

    fn counts(&self) -> Counts {
        self.counts
    }

    fn layout(&self) -> String {
        "survey".into()
    }

    fn extra_rejects(&mut self) -> Vec<(String, u32, Vec<String>)> {
        std::mem::take(&mut self.extra_rejects)
    }
}

//! The participant roster (登録者名簿) into the `participants` table: each row checked
//! (`validate::roster`), new participants inserted, identical ones skipped, changed ones
//! refused unless `--update`.

use super::header::Header;
use super::Problem;
use crate::db::participants;
pub use crate::db::participants::Participant;
use crate::sheet::Row;
use crate::validate::fields::problem;
pub use crate::validate::roster::{check_header, check_row, merge_absent, COLUMNS, EXPORT_HEADERS};
use chrono::NaiveDate;

/// The roster's row handler: new participants inserted, identical ones skipped, changed
/// ones refused unless `--update` (the old values kept in `participant_history`).
pub struct RosterImporter {
    batch: i64,
    update: bool,
    today: NaiveDate,
    /// The file's first row per participant number is noted in a working table of the
    /// import's transaction (`db::participants::seen_*`), not held in memory.
    seen_ready: bool,
    counts: super::Counts,
}

impl RosterImporter {
    pub fn new(batch: i64, update: bool, today: NaiveDate) -> Self {
        RosterImporter {
            batch,
            update,
            today,
            seen_ready: false,
            counts: Default::default(),
        }
    }
}

impl super::batch::RowHandler for RosterImporter {
    fn refused_unread(&mut self) {
        self.counts.rows += 1;
    }

    fn header(&mut self, h: &Header) -> Vec<Problem> {
        check_header(h)
    }

    fn row(
        &mut self,
        conn: &rusqlite::Connection,
        h: &Header,
        row: &Row,
        out: &mut Vec<Problem>,
    ) -> anyhow::Result<()> {
        self.counts.rows += 1;
        let p = match check_row(row, h, self.today) {
            Ok(p) => p,
            Err(ps) => {
                out.extend(ps);
                return Ok(());
            }
        };
        let pc = h.col("participant_id").unwrap_or(0);
        if !self.seen_ready {
            participants::seen_reset(conn)?;
            self.seen_ready = true;
        }
        if let Some(first) = participants::seen_first(conn, &p.id, row.number())? {
            out.push(problem(
                h,
                row,
                pc,
                "participant.duplicate",
                format!("参加者番号 {} がこのファイルの {first} 行目にもあります。どちらかを消してください", p.id),
            ));
            return Ok(());
        }
        match Participant::load(conn, &p.id)? {
            None => {
                participants::insert(conn, &p, self.batch)?;
                self.counts.inserted += 1;
            }
            Some(old) if old == merge_absent(p.clone(), &old, h) => self.counts.duplicates += 1,
            Some(old) => {
                // A column the file does not have keeps its stored value: an update
                // changes what was keyed, never blanks what was not.
                let p = merge_absent(p, &old, h);
                let fields = p.changed_fields(&old).join("・");
                if !self.update {
                    out.push(problem(
                        h,
                        row,
                        pc,
                        "participant.changed",
                        format!(
                            "参加者 {} の登録内容（{fields}）が登録済みのものと違います。変更を受け入れるなら --update を付けてください（変更前は履歴に残ります）",
                            p.id
                        ),
                    ));
                    return Ok(());
                }
                participants::update(conn, &p, &old, self.batch, &crate::now())?;
                self.counts.updated += 1;
            }
        }
        Ok(())
    }

    fn finish(
        &mut self,
        conn: &rusqlite::Connection,
        _out: &mut Vec<Problem>,
    ) -> anyhow::Result<()> {
        if self.seen_ready {
            participants::seen_drop(conn)?;
            self.seen_ready = false;
        }
        Ok(())
    }

    fn counts(&self) -> super::Counts {
        self.counts
    }

    fn layout(&self) -> String {
        "roster".into()
    }
}

//! Who keyed what (入力品質): the model behind `stepcard quality` and the 入力品質 sheet
//! of the handling-status report. Pure: no SQL, no xlsx.
//!
//! - A verification's differences become **discrepancies**, each of one field kind:
//!   a value keyed differently for the same participant and day is a steps
//!   discrepancy; the same value keyed for the same participant on another day (or
//!   month) is a date discrepancy; the same value for the same day under another
//!   participant number is a participant-number discrepancy; a day keyed in one file
//!   only (nothing to pair it with) is a steps discrepancy (a value left out or added).
//! - A discrepancy is **resolved** when a later steps batch keys that participant's
//!   month: the value it stores decides which side was wrong ([`decide`]).
//! - Per keyer and field kind: cells keyed, discrepancies found, errors attributed,
//!   error rate per 10,000 cells; and the importer's refusals per keyer and code.
//!   Aggregates only: no participant number, no value.

use chrono::NaiveDate;

/// The kind of field a keyed cell is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Participant,
    Date,
    Steps,
}

pub const FIELDS: [Field; 3] = [Field::Participant, Field::Date, Field::Steps];

impl Field {
    pub fn code(self) -> &'static str {
        match self {
            Field::Participant => "participant",
            Field::Date => "date",
            Field::Steps => "steps",
        }
    }
    pub fn from_code(s: &str) -> Option<Field> {
        FIELDS.into_iter().find(|f| f.code() == s)
    }
    pub fn ja(self) -> &'static str {
        match self {
            Field::Participant => "参加者番号",
            Field::Date => "日付・年月",
            Field::Steps => "歩数",
        }
    }
}

/// How the two keyings differ at a discrepancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Same participant and day, different values.
    Mismatch,
    OnlyFirst,
    OnlySecond,
    /// The same value at another participant or day.
    Moved,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Mismatch => "mismatch",
            Kind::OnlyFirst => "only_first",
            Kind::OnlySecond => "only_second",
            Kind::Moved => "moved",
        }
    }
    pub fn from_code(s: &str) -> Option<Kind> {
        [
            Kind::Mismatch,
            Kind::OnlyFirst,
            Kind::OnlySecond,
            Kind::Moved,
        ]
        .into_iter()
        .find(|k| k.code() == s)
    }
}

/// Where one keying put a value: participant number, day, steps (`None`: not a whole
/// number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub participant: String,
    pub date: NaiveDate,
    pub steps: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discrepancy {
    pub field: Field,
    pub kind: Kind,
    pub first: Option<Loc>,
    pub second: Option<Loc>,
}

/// Which keying was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrong {
    First,
    Second,
    Both,
}

impl Wrong {
    pub fn code(self) -> &'static str {
        match self {
            Wrong::First => "first",
            Wrong::Second => "second",
            Wrong::Both => "both",
        }
    }
    pub fn from_code(s: &str) -> Option<Wrong> {
        [Wrong::First, Wrong::Second, Wrong::Both]
            .into_iter()
            .find(|w| w.code() == s)
    }
}

/// What a later batch says at one side's place: whether it keyed that participant's
/// month, and the value stored for that participant and day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub keyed: bool,
    pub stored: Option<i64>,
}

/// Which side was wrong, given what a later batch keyed at the first side's place
/// (`at1`) and the second's (`at2`; the same place for a mismatch); `None` while the
/// batch did not key the participant's month there.
pub fn decide(kind: Kind, v1: Option<i64>, v2: Option<i64>, at1: Seen, at2: Seen) -> Option<Wrong> {
    match kind {
        Kind::Mismatch => at1.keyed.then(|| match at1.stored {
            Some(s) if v1 == Some(s) => Wrong::Second,
            Some(s) if v2 == Some(s) => Wrong::First,
            _ => Wrong::Both,
        }),
        // Keyed in one file only: right if the card has it, wrong if the card has
        // nothing there.
        Kind::OnlyFirst => at1.keyed.then(|| match at1.stored {
            Some(s) if v1 == Some(s) => Wrong::Second,
            Some(_) => Wrong::Both,
            None => Wrong::First,
        }),
        Kind::OnlySecond => at2.keyed.then(|| match at2.stored {
            Some(s) if v2 == Some(s) => Wrong::First,
            Some(_) => Wrong::Both,
            None => Wrong::Second,
        }),
        // One value at two places: the side whose place holds it was right.
        Kind::Moved => {
            if at1.keyed && at1.stored.is_some() && at1.stored == v1 {
                Some(Wrong::Second)
            } else if at2.keyed && at2.stored.is_some() && at2.stored == v2 {
                Some(Wrong::First)
            } else if at1.keyed || at2.keyed {
                Some(Wrong::Both)
            } else {
                None
            }
        }
    }
}

/// One keyed file as counted: who keyed it, its content, and (for a keying checked by
/// verification) the content of the keying it was checked against.
#[derive(Debug, Clone)]
pub struct Keying {
    pub keyed_by: String,
    pub sha256: String,
    pub partner: Option<String>,
    /// Rows: each keys one participant number and one date (or month).
    pub rows: u64,
    pub steps_cells: u64,
}

/// A stored discrepancy as counted.
#[derive(Debug, Clone)]
pub struct Counted {
    pub field: Field,
    pub first_keyed_by: String,
    pub second_keyed_by: String,
    pub wrong: Option<Wrong>,
}

/// The importer's refusals of one keyer's files, by code.
#[derive(Debug, Clone)]
pub struct Refusals {
    pub keyed_by: String,
    pub code: String,
    pub count: u64,
}

/// One line of the report: a keyer and a field kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Line {
    pub keyed_by: String,
    pub field: Option<Field>,
    pub cells: u64,
    pub discrepancies: u64,
    pub errors: u64,
    pub unresolved: u64,
}

impl Line {
    /// Errors per 10,000 cells keyed (`None`: no cell keyed).
    pub fn rate(&self) -> Option<f64> {
        (self.cells > 0).then(|| self.errors as f64 * 10_000.0 / self.cells as f64)
    }
}

/// The whole report.
#[derive(Debug, Clone, Default)]
pub struct Quality {
    pub lines: Vec<Line>,
    /// (keyer, code, meaning, count), by keyer then code.
    pub refusals: Vec<(String, String, &'static str, u64)>,
    pub runs: u64,
    pub discrepancies: u64,
    pub unresolved: u64,
}

/// Count the keyings once each: a file keyed by the same person again (same content) is
/// the same work, and so is a keying checked against the same other keying as an
/// earlier one by the same person (a corrected re-keying of the same cards).
pub fn counted_keyings(keyings: &[Keying]) -> Vec<&Keying> {
    let mut out: Vec<&Keying> = Vec::new();
    for k in keyings {
        let again = out.iter().any(|o| {
            o.keyed_by == k.keyed_by
                && (o.sha256 == k.sha256 || (k.partner.is_some() && o.partner == k.partner))
        });
        if !again {
            out.push(k);
        }
    }
    out
}

/// The report from the keyings (in the order they were keyed), the stored
/// discrepancies and the refusals.
pub fn build(keyings: &[Keying], discs: &[Counted], refusals: &[Refusals], runs: u64) -> Quality {
    type Lines = std::collections::BTreeMap<(String, Field), Line>;
    let mut lines: Lines = Default::default();
    fn line<'l>(lines: &'l mut Lines, k: &str, f: Field) -> &'l mut Line {
        lines.entry((k.to_string(), f)).or_insert_with(|| Line {
            keyed_by: k.to_string(),
            field: Some(f),
            ..Line::default()
        })
    }
    for k in counted_keyings(keyings) {
        line(&mut lines, &k.keyed_by, Field::Participant).cells += k.rows;
        line(&mut lines, &k.keyed_by, Field::Date).cells += k.rows;
        line(&mut lines, &k.keyed_by, Field::Steps).cells += k.steps_cells;
    }
    let mut q = Quality {
        runs,
        ..Quality::default()
    };
    for d in discs {
        q.discrepancies += 1;
        let mut keyers = vec![&d.first_keyed_by];
        if d.second_keyed_by != d.first_keyed_by {
            keyers.push(&d.second_keyed_by);
        }
        for k in &keyers {
            let l = line(&mut lines, k, d.field);
            l.discrepancies += 1;
            if d.wrong.is_none() {
                l.unresolved += 1;
            }
        }
        match d.wrong {
            Some(Wrong::First) => line(&mut lines, &d.first_keyed_by, d.field).errors += 1,
            Some(Wrong::Second) => line(&mut lines, &d.second_keyed_by, d.field).errors += 1,
            Some(Wrong::Both) => {
                line(&mut lines, &d.first_keyed_by, d.field).errors += 1;
                line(&mut lines, &d.second_keyed_by, d.field).errors += 1;
            }
            None => q.unresolved += 1,
        }
    }
    let mut by: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for r in refusals {
        *by.entry((r.keyed_by.clone(), r.code.clone())).or_default() += r.count;
        // A keyer who only ever had files refused still gets their lines.
        line(&mut lines, &r.keyed_by, Field::Steps);
    }
    q.refusals = by
        .into_iter()
        .map(|((k, c), n)| {
            let meaning = crate::validate::meaning(&c);
            (k, c, meaning, n)
        })
        .collect();
    // Every keyer on all three lines, then a total per keyer.
    let keyers: Vec<String> = {
        let mut v: Vec<String> = lines.keys().map(|(k, _)| k.clone()).collect();
        v.dedup();
        v
    };
    for k in &keyers {
        for f in FIELDS {
            line(&mut lines, k, f);
        }
    }
    for k in keyers {
        let mine: Vec<Line> = FIELDS
            .iter()
            .map(|f| lines[&(k.clone(), *f)].clone())
            .collect();
        q.lines.extend(mine.iter().cloned());
        q.lines.push(Line {
            keyed_by: k,
            field: None,
            cells: mine.iter().map(|l| l.cells).sum(),
            discrepancies: mine.iter().map(|l| l.discrepancies).sum(),
            errors: mine.iter().map(|l| l.errors).sum(),
            unresolved: mine.iter().map(|l| l.unresolved).sum(),
        });
    }
    q
}

/// A rate as shown: `12.5`, or `－` with no cell keyed.
pub fn rate_text(r: Option<f64>) -> String {
    r.map_or_else(|| "－".to_string(), |x| format!("{x:.1}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(keyed: bool, stored: Option<i64>) -> Seen {
        Seen { keyed, stored }
    }

    #[test]
    fn the_stored_value_says_which_side_was_wrong() {
        let (a, b) = (Some(8000), Some(800));
        let no = Seen::default();
        use Kind::*;
        assert_eq!(
            decide(Mismatch, a, b, seen(true, Some(8000)), no),
            Some(Wrong::Second)
        );
        assert_eq!(
            decide(Mismatch, a, b, seen(true, Some(800)), no),
            Some(Wrong::First)
        );
        assert_eq!(
            decide(Mismatch, a, b, seen(true, Some(8080)), no),
            Some(Wrong::Both)
        );
        assert_eq!(decide(Mismatch, a, b, no, no), None, "not keyed again yet");
        assert_eq!(
            decide(OnlyFirst, a, None, seen(true, Some(8000)), no),
            Some(Wrong::Second)
        );
        assert_eq!(
            decide(OnlyFirst, a, None, seen(true, None), no),
            Some(Wrong::First)
        );
        assert_eq!(
            decide(OnlySecond, None, b, no, seen(true, None)),
            Some(Wrong::Second)
        );
        assert_eq!(
            decide(OnlySecond, None, b, no, seen(true, Some(800))),
            Some(Wrong::First)
        );
        // One value under two participant numbers: the second's number is not keyed again.
        assert_eq!(
            decide(Moved, a, a, seen(true, Some(8000)), no),
            Some(Wrong::Second)
        );
        assert_eq!(
            decide(Moved, a, a, seen(true, None), seen(true, Some(8000))),
            Some(Wrong::First)
        );
        assert_eq!(decide(Moved, a, a, seen(true, None), no), Some(Wrong::Both));
        assert_eq!(decide(Moved, a, a, no, no), None);
    }

    fn k(by: &str, sha: &str, partner: Option<&str>, rows: u64, cells: u64) -> Keying {
        Keying {
            keyed_by: by.into(),
            sha256: sha.into(),
            partner: partner.map(Into::into),
            rows,
            steps_cells: cells,
        }
    }

    #[test]
    fn the_same_work_is_counted_once() {
        let ks = [
            k("A", "a", Some("b"), 10, 10),
            k("B", "b", Some("a"), 10, 10),
            // The second keying corrected and verified again; the first imported.
            k("A", "a", Some("b2"), 10, 10),
            k("B", "b2", Some("a"), 10, 10),
            k("A", "a", None, 10, 10),
            k("B", "c", None, 4, 31),
        ];
        let n: Vec<(&str, &str)> = counted_keyings(&ks)
            .iter()
            .map(|k| (k.keyed_by.as_str(), k.sha256.as_str()))
            .collect();
        assert_eq!(n, [("A", "a"), ("B", "b"), ("B", "c")]);
    }

    /// Worked by hand: A keyed 10 rows (10 days), B 10 rows (10 days) plus a card of 4
    /// rows and 31 days. Three discrepancies, all B's; one refusal of B's.
    #[test]
    fn figures_of_a_two_keyer_example() {
        let ks = [
            k("A", "a", Some("b"), 10, 10),
            k("B", "b", Some("a"), 10, 10),
            k("B", "c", None, 4, 31),
        ];
        let d = |field, wrong| Counted {
            field,
            first_keyed_by: "A".into(),
            second_keyed_by: "B".into(),
            wrong,
        };
        let discs = [
            d(Field::Steps, Some(Wrong::Second)),
            d(Field::Date, Some(Wrong::Both)),
            d(Field::Participant, None),
        ];
        let refusals = [Refusals {
            keyed_by: "B".into(),
            code: "steps.implausible".into(),
            count: 2,
        }];
        let q = build(&ks, &discs, &refusals, 1);
        type Got = (String, Option<Field>, u64, u64, u64, u64, String);
        let got: Vec<Got> = q
            .lines
            .iter()
            .map(|l| {
                (
                    l.keyed_by.clone(),
                    l.field,
                    l.cells,
                    l.discrepancies,
                    l.errors,
                    l.unresolved,
                    rate_text(l.rate()),
                )
            })
            .collect();
        let row = |k: &str, f, c, d, e, u, r: &str| (k.to_string(), f, c, d, e, u, r.to_string());
        use Field::*;
        assert_eq!(
            got,
            [
                row("A", Some(Participant), 10, 1, 0, 1, "0.0"),
                row("A", Some(Date), 10, 1, 1, 0, "1000.0"),
                row("A", Some(Steps), 10, 1, 0, 0, "0.0"),
                row("A", None, 30, 3, 1, 1, "333.3"),
                row("B", Some(Participant), 14, 1, 0, 1, "0.0"),
                row("B", Some(Date), 14, 1, 1, 0, "714.3"),
                row("B", Some(Steps), 41, 1, 1, 0, "243.9"),
                row("B", None, 69, 3, 2, 1, "289.9"),
            ]
        );
        assert_eq!((q.discrepancies, q.unresolved), (3, 1));
        assert_eq!(
            q.refusals,
            [(
                "B".to_string(),
                "steps.implausible".to_string(),
                "ありえない歩数",
                2
            )]
        );
    }
}

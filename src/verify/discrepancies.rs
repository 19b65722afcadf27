//! A verification's differences as discrepancies of a field kind (see
//! `crate::quality`): a value keyed differently for the same participant and day is a
//! steps discrepancy; the same value for the same participant on another day (or month)
//! a date discrepancy; the same value for the same day under another participant number
//! a participant-number discrepancy; a day keyed in one file only, with nothing to pair
//! it with, a steps discrepancy (a value left out or added).

use super::{Entry, Val, Verification};
use crate::quality::{Discrepancy, Field, Kind, Loc};
use chrono::Datelike;
use std::collections::HashMap;

fn loc(v: &Verification, e: &Entry) -> Loc {
    Loc {
        participant: v.pid(e).to_string(),
        date: e.date,
        steps: match e.val {
            Val::Int(x) => Some(x),
            Val::Bad(_) => None,
        },
    }
}

/// A value as compared for pairing (a number, or the text of an unreadable cell).
fn val_key(v: &Val) -> String {
    match v {
        Val::Int(x) => format!("i{x}"),
        Val::Bad(b) => format!("t{}", b.norm),
    }
}

/// The discrepancies of a verification, each with its field kind (see the module).
pub fn discrepancies(v: &Verification) -> Vec<Discrepancy> {
    let o = &v.outcome;
    let mut out: Vec<Discrepancy> = o
        .mismatches
        .iter()
        .map(|(a, b)| Discrepancy {
            field: Field::Steps,
            kind: Kind::Mismatch,
            first: Some(loc(v, a)),
            second: Some(loc(v, b)),
        })
        .collect();
    let mut used = vec![false; o.only_second.len()];
    let mut paired = vec![false; o.only_first.len()];
    // The same participant and value on another day: a date (or month) keyed wrong.
    // Then the same day and value under another number: a participant number keyed wrong.
    type Key = fn(&Entry) -> (u32, i64);
    let passes: [(Field, Key); 2] = [
        (Field::Date, |e| (e.pid, 0)),
        (Field::Participant, |e| {
            (u32::MAX, e.date.num_days_from_ce() as i64)
        }),
    ];
    for (field, key) in passes {
        let mut index: HashMap<((u32, i64), String), Vec<usize>> = HashMap::new();
        for (j, e) in o.only_second.iter().enumerate() {
            if !used[j] {
                index.entry((key(e), val_key(&e.val))).or_default().push(j);
            }
        }
        for (i, a) in o.only_first.iter().enumerate() {
            if paired[i] {
                continue;
            }
            let Some(js) = index.get_mut(&(key(a), val_key(&a.val))) else {
                continue;
            };
            let Some(pos) = js.iter().position(|&j| !used[j]) else {
                continue;
            };
            let j = js.remove(pos);
            used[j] = true;
            paired[i] = true;
            out.push(Discrepancy {
                field,
                kind: Kind::Moved,
                first: Some(loc(v, a)),
                second: Some(loc(v, &o.only_second[j])),
            });
        }
    }
    for (i, a) in o.only_first.iter().enumerate() {
        if !paired[i] {
            out.push(Discrepancy {
                field: Field::Steps,
                kind: Kind::OnlyFirst,
                first: Some(loc(v, a)),
                second: None,
            });
        }
    }
    for (j, b) in o.only_second.iter().enumerate() {
        if !used[j] {
            out.push(Discrepancy {
                field: Field::Steps,
                kind: Kind::OnlySecond,
                first: None,
                second: Some(loc(v, b)),
            });
        }
    }
    out
}

//! What the report is computed from, read in one ordered pass: the roster in id order
//! beside the steps in (participant, date) order, each participant's months built as
//! they come, folded into counts and sums by the few groups the tables show (channel,
//! sex, age band, target group, month), then dropped. Nothing is kept per participant:
//! the report's memory does not grow with the program. What needs a second look at
//! everyone's values (a standard deviation, a total of two groups one after the other)
//! reads them back from a compact spill ([`super::spill`]); the answers are folded the
//! same way, read twice in participant order.

use super::fold::{MeanSum, PairSums};
use super::spill::{Rec, Spill};
use super::OrderTallies;
use crate::db::report as store;
use crate::import::survey::Timing;
use crate::points::{self, rules_age, Scorer};
use crate::program::{AnswerKind, Program, Question};
use crate::stats::{
    age_band, meets_target, target_group, AgeBand, Month, SexGroup, TargetGroup, AGE_BANDS,
};
use anyhow::Result;
use chrono::NaiveDate;
use rusqlite::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Channel {
    Card,
    App,
}

/// One participant-month: recorded days, their steps, and the days that met the
/// participant's 健康日本21 target.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Acc {
    pub days: i64,
    pub steps: i64,
    pub met: i64,
}

impl Acc {
    pub fn add(&mut self, o: &Acc) {
        self.days += o.days;
        self.steps += o.steps;
        self.met += o.met;
    }
    pub fn mean(&self) -> f64 {
        self.steps as f64 / self.days as f64
    }
}

struct Person {
    channel: Channel,
    sex: SexGroup,
    band: AgeBand,
    target: Option<TargetGroup>,
    months: Months,
}

/// A participant's months with steps, in order: a compact sorted list (8 bytes a month:
/// the month, the days and the days that met the target as bytes, the steps as 32 bits)
/// with the few map operations the report uses, instead of a map per participant (about
/// 1.2 KB each) or `(Month, Acc)` pairs (32 bytes a month), so the report's memory stays
/// small at 10⁵–10⁶ participants. Steps arrive in (participant, date) order, so months
/// are appended. A month has at most 31 days; its steps fit 32 bits (saturating).
#[derive(Debug, Default)]
struct Months(Vec<Slot>);

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// year × 12 + month − 1
    ym: u16,
    days: u8,
    met: u8,
    steps: u32,
}

impl Slot {
    fn month(&self) -> Month {
        Month {
            year: i32::from(self.ym / 12),
            month: u32::from(self.ym % 12) + 1,
        }
    }
    fn acc(&self) -> Acc {
        Acc {
            days: i64::from(self.days),
            steps: i64::from(self.steps),
            met: i64::from(self.met),
        }
    }
}

fn ym(m: &Month) -> u16 {
    u16::try_from(m.year * 12 + m.month as i32 - 1).unwrap_or(u16::MAX)
}

impl Months {
    /// One recorded day of month `m`.
    fn add(&mut self, m: Month, steps: i64, met: bool) {
        let k = ym(&m);
        let v = &mut self.0;
        let i = match v.last() {
            Some(last) if last.ym == k => v.len() - 1,
            Some(last) if last.ym < k => {
                v.push(Slot {
                    ym: k,
                    days: 0,
                    met: 0,
                    steps: 0,
                });
                v.len() - 1
            }
            None => {
                v.push(Slot {
                    ym: k,
                    days: 0,
                    met: 0,
                    steps: 0,
                });
                0
            }
            Some(_) => match v.binary_search_by(|s| s.ym.cmp(&k)) {
                Ok(i) => i,
                Err(i) => {
                    v.insert(
                        i,
                        Slot {
                            ym: k,
                            days: 0,
                            met: 0,
                            steps: 0,
                        },
                    );
                    i
                }
            },
        };
        let s = &mut v[i];
        s.days = s.days.saturating_add(1);
        s.met = s.met.saturating_add(u8::from(met));
        s.steps = s
            .steps
            .saturating_add(u32::try_from(steps.max(0)).unwrap_or(u32::MAX));
    }
    fn get(&self, m: &Month) -> Option<Acc> {
        let k = ym(m);
        self.0
            .binary_search_by(|s| s.ym.cmp(&k))
            .ok()
            .map(|i| self.0[i].acc())
    }
    fn contains_key(&self, m: &Month) -> bool {
        self.get(m).is_some()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn values(&self) -> impl DoubleEndedIterator<Item = Acc> + '_ {
        self.0.iter().map(Slot::acc)
    }
    fn keys(&self) -> impl DoubleEndedIterator<Item = Month> + '_ {
        self.0.iter().map(Slot::month)
    }
}

/// Age bands, `Unknown` included (`AgeBand as usize` indexes them).
pub(super) const BANDS: usize = 8;

/// One month of the program period: everyone's figures for it.
#[derive(Debug, Clone, Default)]
pub(super) struct MonthTally {
    /// Participants with a record this month.
    pub active: usize,
    /// Each active participant's mean daily steps this month: everyone, by age band, by sex.
    pub all: MeanSum,
    pub band: [MeanSum; BANDS],
    pub sex: [MeanSum; 3],
    /// By target group: its participants active this month, and their days together.
    pub target: [(usize, Acc); 2],
    /// 継続: participants whose first month this is, who had started by it, who paused
    /// (nothing this month, something later) and who dropped (nothing this month or after).
    pub new: usize,
    pub started: usize,
    pub paused: usize,
    pub dropped: usize,
}

/// Every participant folded into counts and sums by the groups the tables show; its
/// size is fixed by the program (its months), not by the number of participants.
#[derive(Debug, Default)]
pub(super) struct Tallies {
    pub registered: usize,
    /// Participants with at least one day recorded.
    pub active: usize,
    /// By `Channel as usize`, `SexGroup as usize`, `AgeBand as usize`.
    pub channel: [usize; 2],
    pub sex: [usize; 3],
    pub band: [usize; BANDS],
    /// Every recorded day.
    pub days: Acc,
    /// The program period's months, from its first.
    pub months: Vec<MonthTally>,
    /// 目標達成: each participant's mean over the period, by target group and then sex
    /// (the fourth: the group's sexes together), and the groups one after the other.
    pub person: [[MeanSum; 4]; 2],
    pub person_all: MeanSum,
    /// By target group: its participants with steps, and their days together.
    pub target_days: [(usize, Acc); 2],
    /// 行動変容: first month's mean against last month's, with two months or more:
    /// everyone, by sex, by age band, by start class (below the threshold, at or above
    /// it) and the two classes one after the other.
    pub change: PairSums,
    pub change_sex: [PairSums; 3],
    pub change_band: [PairSums; BANDS],
    pub class: [PairSums; 2],
    pub classes: PairSums,
}

/// The index of month `m` from the period's first month `start`.
fn month_index(start: Month, m: Month) -> Option<usize> {
    let i = (i64::from(m.year) - i64::from(start.year)) * 12 + i64::from(m.month)
        - i64::from(start.month);
    usize::try_from(i).ok()
}

impl Tallies {
    fn new(program: &Program) -> Tallies {
        let (first, last) = (
            Month::of(program.program.start),
            Month::of(program.program.end),
        );
        let n = month_index(first, last).map_or(0, |i| i + 1);
        Tallies {
            months: vec![MonthTally::default(); n],
            ..Tallies::default()
        }
    }

    /// One participant, in id order, with all their months.
    fn add(&mut self, p: &Person, start: Month, threshold: f64, spill: &mut Spill) -> Result<()> {
        self.registered += 1;
        self.channel[p.channel as usize] += 1;
        self.sex[p.sex as usize] += 1;
        self.band[p.band as usize] += 1;
        let (Some(first), Some(last)) = (p.months.keys().next(), p.months.keys().next_back())
        else {
            return Ok(());
        };
        self.active += 1;
        let (s, b) = (p.sex as usize, p.band as usize);
        let mut whole = Acc::default();
        for (m, a) in p.months.keys().zip(p.months.values()) {
            whole.add(&a);
            let Some(mt) = month_index(start, m).and_then(|i| self.months.get_mut(i)) else {
                continue;
            };
            mt.active += 1;
            let mean = a.mean();
            mt.all.add(mean);
            mt.band[b].add(mean);
            mt.sex[s].add(mean);
            if let Some(g) = p.target {
                mt.target[g as usize].0 += 1;
                mt.target[g as usize].1.add(&a);
            }
        }
        self.days.add(&whole);
        let mut m = start;
        for mt in &mut self.months {
            if first == m {
                mt.new += 1;
            }
            if first <= m {
                mt.started += 1;
                if p.months.contains_key(&m) {
                } else if last > m {
                    mt.paused += 1;
                } else {
                    mt.dropped += 1;
                }
            }
            m = m.next();
        }
        let mean = whole.mean();
        if let Some(g) = p.target {
            let gi = g as usize;
            self.person[gi][s].add_person(mean, g);
            self.person[gi][3].add_person(mean, g);
            self.target_days[gi].0 += 1;
            self.target_days[gi].1.add(&whole);
        }
        let pair = (p.months.len() >= 2)
            .then(|| {
                let first = p.months.values().next()?.mean();
                let last = p.months.values().next_back()?.mean();
                Some((first, last))
            })
            .flatten();
        if let Some((f, l)) = pair {
            self.change.add(f, l);
            self.change_sex[s].add(f, l);
            self.change_band[b].add(f, l);
            self.class[usize::from(f >= threshold)].add(f, l);
        }
        spill.push(&Rec {
            sex: p.sex as u8,
            band: p.band as u8,
            target: p.target.map_or(0, |g| 1 + g as u8),
            mean,
            pair,
        })
    }

    /// The second look, once everyone is in: the squares of the differences for each
    /// group's standard deviation, and the totals made of two groups one after the other
    /// (the 65歳以上 after the 20〜64歳; the class at or above the threshold after the
    /// one below it), as the tables list them.
    fn second_look(&mut self, spill: &mut Spill, threshold: f64) -> Result<()> {
        let senior = 1 + TargetGroup::Senior as u8;
        let mut person_all = self.person[TargetGroup::Adult as usize][3];
        let mut classes = self.class[0];
        spill.each(|r| {
            if let Some((f, l)) = r.pair {
                self.change.add_square(f, l);
                self.change_sex[usize::from(r.sex)].add_square(f, l);
                self.change_band[usize::from(r.band)].add_square(f, l);
                let high = f >= threshold;
                self.class[usize::from(high)].add_square(f, l);
                if high {
                    classes.add(f, l);
                }
            }
            if r.target == senior {
                person_all.add_person(r.mean, TargetGroup::Senior);
            }
        })?;
        for high in [false, true] {
            spill.each(|r| {
                if let Some((f, l)) = r.pair {
                    if (f >= threshold) == high {
                        classes.add_square(f, l);
                    }
                }
            })?;
        }
        self.person_all = person_all;
        self.classes = classes;
        Ok(())
    }
}

/// One question's answers: at 事前 and at 事後, how many answered and how many gave each
/// of its categories; for a 5-point scale, each participant's 事前 and 事後 paired.
#[derive(Debug, Clone)]
pub(super) struct QuestionTally {
    pub answered: [usize; 2],
    pub by_category: [Vec<usize>; 2],
    pub pairs: PairSums,
}

/// The questionnaire's answers folded by question, read a participant at a time (twice
/// when a 5-point question is compared: the second time for the squares).
fn survey(conn: &Connection, program: &Program) -> Result<Vec<QuestionTally>> {
    let questions = &program.survey.questions;
    let cats: Vec<Vec<String>> = questions.iter().map(super::categories).collect();
    let mut out: Vec<QuestionTally> = cats
        .iter()
        .map(|c| QuestionTally {
            answered: [0; 2],
            by_category: [vec![0; c.len()], vec![0; c.len()]],
            pairs: PairSums::default(),
        })
        .collect();
    let passes = if questions.iter().any(|q| q.kind == AnswerKind::Scale5) {
        2
    } else {
        1
    };
    for pass in 0..passes {
        let second = pass == 1;
        // The current participant's answers (a questionnaire or two).
        let mut pid = None::<String>;
        let mut theirs: Vec<(Timing, String, String)> = Vec::new();
        let mut fold = |theirs: &mut Vec<(Timing, String, String)>| {
            for ((q, c), t) in questions.iter().zip(&cats).zip(&mut out) {
                fold_answers(q, c, theirs, t, second);
            }
            theirs.clear();
        };
        store::each_answer(conn, |p, timing, q, a| {
            if pid.as_deref() != Some(p) {
                fold(&mut theirs);
                pid = Some(p.to_string());
            }
            if let Some(t) = Timing::from_stored(timing) {
                theirs.push((t, q.to_string(), a.to_string()));
            }
            Ok(())
        })?;
        fold(&mut theirs);
    }
    Ok(out)
}

/// One participant's answers to question `q` (categories `cats`) into its tally: the
/// counts and pairs, or on the `second` look only the pair's square.
fn fold_answers(
    q: &Question,
    cats: &[String],
    theirs: &[(Timing, String, String)],
    t: &mut QuestionTally,
    second: bool,
) {
    let at = |timing: Timing| {
        theirs
            .iter()
            .find(|(w, code, _)| *w == timing && *code == q.code)
            .map(|x| x.2.as_str())
    };
    let (pre, post) = (at(Timing::Pre), at(Timing::Post));
    if !second {
        for (k, a) in [pre, post].into_iter().enumerate() {
            let Some(a) = a else { continue };
            t.answered[k] += 1;
            for (n, c) in t.by_category[k].iter_mut().zip(cats) {
                *n += usize::from(c == a);
            }
        }
    }
    if q.kind != AnswerKind::Scale5 {
        return;
    }
    let pair = pre
        .zip(post)
        .and_then(|(a, b)| Some((a.parse::<f64>().ok()?, b.parse::<f64>().ok()?)));
    if let Some((a, b)) = pair {
        if second {
            t.pairs.add_square(a, b);
        } else {
            t.pairs.add(a, b);
        }
    }
}

/// Everything the report is computed from.
pub(super) struct Data {
    pub t: Tallies,
    /// The months with steps so far: the program's first to the last recorded.
    pub months: Vec<Month>,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub earned: i64,
    pub earners: i64,
    pub used: i64,
    pub users: i64,
    /// The orders counted by prize row (the program's prizes, then unknown codes).
    pub orders: OrderTallies,
    /// By the program's questions, in order.
    pub survey: Vec<QuestionTally>,
    pub bands: Vec<AgeBand>,
}

impl Person {
    fn of(r: &store::PersonRow, start: NaiveDate) -> Person {
        let age = rules_age(r.birth_date.as_deref(), r.age, start);
        Person {
            channel: if r.channel == "アプリ" {
                Channel::App
            } else {
                Channel::Card
            },
            sex: SexGroup::from_stored(r.sex.as_deref()),
            band: age_band(age),
            target: target_group(age),
            months: Months::default(),
        }
    }
}

pub(super) fn load(conn: &Connection, program: &Program) -> Result<Data> {
    let start = program.program.start;
    let first_month = Month::of(start);
    let threshold = program
        .report
        .baseline_threshold
        .unwrap_or(crate::stats::DEFAULT_BASELINE_THRESHOLD) as f64;
    let mut t = Tallies::new(program);
    let mut spill = Spill::default();
    let (mut first_day, mut last_day) = (None::<NaiveDate>, None::<NaiveDate>);
    store::with_roster(conn, |roster| {
        let mut next = roster.next_person()?;
        // The participant whose steps come now (`None`: someone not in the roster, whose
        // steps cannot come through the imports and are passed over).
        let mut pid = None::<String>;
        let mut cur: Option<Person> = None;
        crate::db::points::each_step(conn, |id, date, steps| {
            let Some(d) = points::parse_iso(date) else {
                return Ok(());
            };
            if !program.in_period(d) {
                return Ok(());
            }
            if pid.as_deref() != Some(id) {
                if let Some(p) = cur.take() {
                    t.add(&p, first_month, threshold, &mut spill)?;
                }
                // The roster's participants before this one have no steps.
                while let Some(r) = next.as_ref().filter(|r| r.id.as_str() < id) {
                    t.add(&Person::of(r, start), first_month, threshold, &mut spill)?;
                    next = roster.next_person()?;
                }
                if let Some(r) = next.as_ref().filter(|r| r.id == id) {
                    cur = Some(Person::of(r, start));
                    next = roster.next_person()?;
                }
                pid = Some(id.to_string());
            }
            let Some(p) = cur.as_mut() else {
                return Ok(());
            };
            let met = p.target.is_some_and(|g| meets_target(g, steps as f64));
            p.months.add(Month::of(d), steps, met);
            first_day = Some(first_day.map_or(d, |f| f.min(d)));
            last_day = Some(last_day.map_or(d, |l| l.max(d)));
            Ok(())
        })?;
        if let Some(p) = cur.take() {
            t.add(&p, first_month, threshold, &mut spill)?;
        }
        while let Some(r) = next.take() {
            t.add(&Person::of(&r, start), first_month, threshold, &mut spill)?;
            next = roster.next_person()?;
        }
        Ok(())
    })?;
    t.second_look(&mut spill, threshold)?;
    drop(spill);
    let mut months = Vec::new();
    if let Some(last) = last_day {
        let mut m = first_month;
        while m <= Month::of(last) {
            months.push(m);
            m = m.next();
        }
    }
    let scorer = Scorer::new(program, None);
    let (mut earned, mut earners, mut used, mut users) = (0i64, 0i64, 0i64, 0i64);
    crate::db::points::for_each_participant(conn, &scorer, None, |s| {
        let e = s.score.earned();
        earned += e;
        earners += i64::from(e > 0);
        used += s.used;
        users += i64::from(s.used > 0);
        Ok(())
    })?;
    let orders = OrderTallies::count(conn, program)?;
    let survey = survey(conn, program)?;
    let mut bands: Vec<AgeBand> = AGE_BANDS.to_vec();
    if t.band[AgeBand::Unknown as usize] > 0 {
        bands.push(AgeBand::Unknown);
    }
    Ok(Data {
        t,
        months,
        first_day,
        last_day,
        earned,
        earners,
        used,
        users,
        orders,
        survey,
        bands,
    })
}

#[cfg(test)]
mod months_tests {
    use super::{Month, Months};

    #[test]
    fn months_stay_sorted_and_found_whatever_the_order_they_come_in() {
        let m = |month| Month { year: 2025, month };
        let mut ms = Months::default();
        for (k, steps) in [(5, 1), (5, 2), (7, 10), (4, 100), (6, 1000), (7, 5)] {
            ms.add(m(k), steps, k == 7);
        }
        assert_eq!(ms.len(), 4);
        assert_eq!(ms.keys().map(|k| k.month).collect::<Vec<_>>(), [4, 5, 6, 7]);
        assert_eq!(ms.get(&m(5)).map(|a| (a.days, a.steps)), Some((2, 3)));
        assert_eq!(ms.get(&m(7)).map(|a| a.steps), Some(15));
        assert!(!ms.contains_key(&m(8)));
        assert_eq!(ms.values().next_back().map(|a| a.days), Some(2));
        assert_eq!(ms.get(&m(7)).map(|a| a.met), Some(2));
        assert_eq!(ms.get(&m(4)).map(|a| a.met), Some(0));
    }
}

#[cfg(test)]
mod tally_tests {
    use super::*;
    use crate::stats;

    fn program() -> Program {
        Program::parse(
            include_str!("../../examples/program.toml"),
            "examples/program.toml",
        )
        .unwrap()
    }

    /// Participants with their days as (month, steps), folded one by one, give what the
    /// per-person lists the report used to keep give: the counts, each month's means, the
    /// continuation and, through the second look, the paired comparisons and the totals
    /// of two groups one after the other.
    #[test]
    fn participants_folded_give_the_per_person_figures() {
        let program = program();
        let start = Month::of(program.program.start);
        let m = |k: u32| {
            let mut x = start;
            for _ in 0..k {
                x = x.next();
            }
            x
        };
        // (sex, band, target, days as (month index, steps))
        type Days = Vec<(u32, i64)>;
        let people: Vec<(SexGroup, AgeBand, Option<TargetGroup>, Days)> = vec![
            (
                SexGroup::Male,
                AgeBand::From40,
                Some(TargetGroup::Adult),
                vec![(0, 9001), (0, 7003), (2, 12011)],
            ),
            (
                SexGroup::Female,
                AgeBand::From75,
                Some(TargetGroup::Senior),
                vec![(1, 5003), (3, 6007), (3, 4001)],
            ),
            (SexGroup::Other, AgeBand::Unknown, None, vec![]),
            (
                SexGroup::Female,
                AgeBand::From30,
                Some(TargetGroup::Adult),
                vec![(0, 3001), (1, 2999), (1, 4003), (2, 3333)],
            ),
            (
                SexGroup::Male,
                AgeBand::From65To74,
                Some(TargetGroup::Senior),
                vec![(2, 8111)],
            ),
            (
                SexGroup::Male,
                AgeBand::From65To74,
                Some(TargetGroup::Senior),
                vec![(0, 7777), (3, 9999)],
            ),
        ];
        let threshold = 8000.0;
        let mut t = Tallies::new(&program);
        let mut spill = Spill::default();
        let mut persons = Vec::new();
        for (sex, band, target, days) in &people {
            let mut p = Person {
                channel: Channel::Card,
                sex: *sex,
                band: *band,
                target: *target,
                months: Months::default(),
            };
            for (k, steps) in days {
                let met = target.is_some_and(|g| meets_target(g, *steps as f64));
                p.months.add(m(*k), *steps, met);
            }
            t.add(&p, start, threshold, &mut spill).unwrap();
            persons.push(p);
        }
        t.second_look(&mut spill, threshold).unwrap();

        assert_eq!((t.registered, t.active), (6, 5));
        assert_eq!(t.sex, [3, 2, 1]);
        assert_eq!(t.band[AgeBand::Unknown as usize], 1);
        // Month by month, as the lists gave them.
        for (k, mt) in t.months.iter().take(4).enumerate() {
            let mm = m(k as u32);
            let means: Vec<f64> = persons
                .iter()
                .filter_map(|p| p.months.get(&mm).map(|a| a.mean()))
                .collect();
            assert_eq!(mt.active, means.len());
            assert_eq!(mt.all.mean(), stats::mean(&means));
            let fl: Vec<(Month, Month)> = persons
                .iter()
                .filter_map(|p| Some((p.months.keys().next()?, p.months.keys().next_back()?)))
                .collect();
            assert_eq!(mt.new, fl.iter().filter(|(f, _)| *f == mm).count());
            assert_eq!(mt.started, fl.iter().filter(|(f, _)| *f <= mm).count());
        }
        assert_eq!((t.months[1].paused, t.months[1].dropped), (2, 0));
        assert_eq!((t.months[3].paused, t.months[3].dropped), (0, 3));
        // The paired comparisons: everyone, and the two start classes one after the other.
        let pair = |p: &Person| -> Option<(f64, f64)> {
            (p.months.len() >= 2).then(|| {
                let v: Vec<Acc> = p.months.values().collect();
                (v[0].mean(), v[v.len() - 1].mean())
            })
        };
        let pairs: Vec<(f64, f64)> = persons.iter().filter_map(pair).collect();
        assert_eq!(pairs.len(), 4);
        assert_eq!(t.change.paired(), stats::paired(&pairs));
        type Pairs = Vec<(f64, f64)>;
        let (low, high): (Pairs, Pairs) = pairs.iter().partition(|(f, _)| *f < threshold);
        assert_eq!((low.len(), high.len()), (3, 1));
        assert_eq!(t.class[0].paired(), stats::paired(&low));
        assert_eq!(t.class[1].paired(), stats::paired(&high));
        let joined: Vec<(f64, f64)> = low.iter().chain(&high).copied().collect();
        assert_eq!(t.classes.paired(), stats::paired(&joined));
        // The 20歳以上 whole: the 20〜64 means, then the 65〜 means.
        let mean_of = |g| -> Vec<f64> {
            persons
                .iter()
                .filter(|p| p.target == Some(g) && p.months.len() > 0)
                .map(|p| {
                    let mut a = Acc::default();
                    p.months.values().for_each(|x| a.add(&x));
                    a.mean()
                })
                .collect()
        };
        let all: Vec<f64> = mean_of(TargetGroup::Adult)
            .into_iter()
            .chain(mean_of(TargetGroup::Senior))
            .collect();
        assert_eq!(t.person_all.n, 5);
        assert_eq!(t.person_all.mean(), stats::mean(&all));
        assert_eq!(
            t.person[TargetGroup::Senior as usize][3].mean(),
            stats::mean(&mean_of(TargetGroup::Senior))
        );
    }
}

//! Points: a pure function of the stored steps and the program's rules, never a stored
//! balance. Whatever order the batches came in, after an undo or a `--replace`, the
//! points are recomputed from what is stored now, so they cannot drift.
//!
//! The rules (program file `[points]`):
//! - a day earns the points of the highest band it reaches (`steps >= band.steps`),
//!   capped at `daily_cap`;
//! - a participant whose age on the program's start date reaches an `age_bands` entry's
//!   `min_age` uses that entry's bands instead (the highest such entry);
//! - each `[[points.bonus]]` is awarded once per calendar month in which at least
//!   `min_days` counted days reach `min_steps`;
//! - only days inside `program.start ..= program.end` (and on or before the as-of date,
//!   when one is given) count, for the day points and for the bonuses alike.
//!
//! Points used are the points of accepted orders; the balance is earned minus used.
//! [`Scorer`] and [`Tally`] hold the rules and one participant's running count and
//! touch no database; `db::points` streams the `steps` table through them (ordered by
//! participant and date, one pass, nothing loaded whole).

use crate::program::{Band, Bonus, PointsRules, Program};
use chrono::{Datelike, NaiveDate};

/// Age in whole years on `on` for someone born on `birth`: the birthday itself counts
/// (born 1960-05-14 is 65 on 2025-05-14). Someone born on 29 February turns a year
/// older on 1 March in a common year.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// The age the rules use for a participant: the age on the program's start date from
/// the roster's birth date when there is one; otherwise the roster's `年齢` column as
/// keyed (it is collected at registration, just before the program starts, so it is
/// taken as the age on the start date). `None` when neither is stored: the standard
/// bands apply.
pub fn rules_age(birth_date: Option<&str>, age: Option<i64>, start: NaiveDate) -> Option<u32> {
    if let Some(b) = birth_date.and_then(parse_iso) {
        return age_on(b, start);
    }
    age.and_then(|a| u32::try_from(a).ok())
}

/// A stored `YYYY-MM-DD` date.
pub fn parse_iso(s: &str) -> Option<NaiveDate> {
    crate::sheet::date::iso_exact(s)?.ok()
}

/// The rules of one program, ready to score days.
#[derive(Debug, Clone)]
pub struct Scorer {
    /// Band tables: 0 is the standard one, then one per `age_bands` entry.
    tables: Vec<Vec<Band>>,
    /// `min_age` of tables 1.. (ascending, as the program check enforces).
    min_ages: Vec<u32>,
    cap: Option<i64>,
    bonus: Vec<Bonus>,
    start: NaiveDate,
    /// The last counted day: the program's end, or the as-of date when earlier.
    last: NaiveDate,
    months: usize,
}

/// Which band table a participant uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table(usize);

impl Scorer {
    /// The scorer for a program, counting days up to `as_of` (all days when `None`).
    pub fn new(program: &Program, as_of: Option<NaiveDate>) -> Scorer {
        Scorer::from_rules(
            &program.points,
            program.program.start,
            program.program.end,
            as_of,
        )
    }

    pub fn from_rules(
        rules: &PointsRules,
        start: NaiveDate,
        end: NaiveDate,
        as_of: Option<NaiveDate>,
    ) -> Scorer {
        let last = as_of.map_or(end, |a| a.min(end));
        let mut tables = vec![rules.bands.clone()];
        let mut min_ages = Vec::new();
        for ab in &rules.age_bands {
            tables.push(ab.bands.clone());
            min_ages.push(ab.min_age);
        }
        let months = if last < start {
            0
        } else {
            month_index(start, last) + 1
        };
        Scorer {
            tables,
            min_ages,
            cap: rules.daily_cap,
            bonus: rules.bonus.clone(),
            start,
            last,
            months,
        }
    }

    /// The band table for an age (the standard table when the age is unknown).
    pub fn table_for(&self, age: Option<u32>) -> Table {
        let Some(age) = age else {
            return Table(0);
        };
        Table(
            self.min_ages
                .iter()
                .rposition(|&m| age >= m)
                .map_or(0, |i| i + 1),
        )
    }

    /// The program's first day: ages for the rules are taken on it.
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// How the table is named to operators: 標準 or `65歳以上`.
    pub fn table_name(&self, t: Table) -> String {
        match t.0 {
            0 => "標準".to_string(),
            i => format!("{}歳以上", self.min_ages[i - 1]),
        }
    }

    /// Whether a day counts (inside the period and not after the as-of date).
    pub fn counts(&self, date: NaiveDate) -> bool {
        date >= self.start && date <= self.last
    }

    /// Points for one counted day's steps: the highest band reached, capped.
    pub fn day_points(&self, t: Table, steps: i64) -> i64 {
        let bands = &self.tables[t.0];
        let p = bands
            .iter()
            .rev()
            .find(|b| steps >= b.steps)
            .map_or(0, |b| b.points);
        match self.cap {
            Some(cap) => p.min(cap),
            None => p,
        }
    }

    /// Whether a day's points were cut by the daily cap.
    pub fn capped(&self, t: Table, steps: i64) -> bool {
        let raw = self.tables[t.0]
            .iter()
            .rev()
            .find(|b| steps >= b.steps)
            .map_or(0, |b| b.points);
        self.cap.is_some_and(|c| raw > c)
    }

    pub fn bonuses(&self) -> &[Bonus] {
        &self.bonus
    }

    /// A running count for one participant using table `t`.
    pub fn tally(&self, t: Table) -> Tally<'_> {
        Tally {
            scorer: self,
            table: t,
            score: Score::default(),
            hits: vec![0; self.months * self.bonus.len()],
        }
    }
}

/// Months from `start`'s month to `d`'s month (0 for the same month).
fn month_index(start: NaiveDate, d: NaiveDate) -> usize {
    let n = (d.year() - start.year()) * 12 + d.month() as i32 - start.month() as i32;
    n.max(0) as usize
}

/// One bonus awarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BonusAward {
    pub year: i32,
    pub month: u32,
    /// Index into the program's `[[points.bonus]]`.
    pub bonus: usize,
    /// Counted days in the month reaching the bonus's `min_steps`.
    pub days: u32,
    pub points: i64,
}

/// One participant's points from steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Score {
    /// Counted days (stored days inside the period, up to the as-of date).
    pub days: u32,
    /// Steps on the counted days.
    pub steps: i64,
    pub day_points: i64,
    pub bonus_points: i64,
    pub bonuses: Vec<BonusAward>,
}

impl Score {
    pub fn earned(&self) -> i64 {
        self.day_points + self.bonus_points
    }
}

/// A participant's running count. Days may come in any order; each stored day comes
/// once (the `steps` table's key is participant and date).
pub struct Tally<'s> {
    scorer: &'s Scorer,
    table: Table,
    score: Score,
    /// Per month and bonus: days reaching the bonus's `min_steps`.
    hits: Vec<u32>,
}

impl Tally<'_> {
    /// Count one stored day; its points, or `None` when the day does not count.
    pub fn add(&mut self, date: NaiveDate, steps: i64) -> Option<i64> {
        let s = self.scorer;
        if !s.counts(date) {
            return None;
        }
        let p = s.day_points(self.table, steps);
        self.score.days += 1;
        self.score.steps += steps;
        self.score.day_points += p;
        if !s.bonus.is_empty() {
            let m = month_index(s.start, date);
            for (i, b) in s.bonus.iter().enumerate() {
                if steps >= b.min_steps {
                    self.hits[m * s.bonus.len() + i] += 1;
                }
            }
        }
        Some(p)
    }

    /// The score, with each month's bonuses settled.
    pub fn finish(mut self) -> Score {
        let s = self.scorer;
        let nb = s.bonus.len();
        for m in 0..s.months {
            let first = s.start.with_day(1).unwrap_or(s.start);
            let Some(month) = first.checked_add_months(chrono::Months::new(m as u32)) else {
                continue;
            };
            for (i, b) in s.bonus.iter().enumerate() {
                let days = self.hits[m * nb + i];
                if days >= b.min_days {
                    self.score.bonus_points += b.points;
                    self.score.bonuses.push(BonusAward {
                        year: month.year(),
                        month: month.month(),
                        bonus: i,
                        days,
                        points: b.points,
                    });
                }
            }
        }
        self.score
    }
}

/// Score one participant's days (pure; for callers that hold the days in memory).
pub fn score(scorer: &Scorer, age: Option<u32>, days: &[(NaiveDate, i64)]) -> Score {
    let mut t = scorer.tally(scorer.table_for(age));
    for &(d, s) in days {
        t.add(d, s);
    }
    t.finish()
}

/// A participant's line in the points list.
#[derive(Debug, Clone)]
pub struct Summary {
    pub participant_id: String,
    pub score: Score,
    /// Points of accepted orders (applied on or before the as-of date).
    pub used: i64,
}

impl Summary {
    pub fn balance(&self) -> i64 {
        self.score.earned() - self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::AgeBands;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn band(steps: i64, points: i64) -> Band {
        Band { steps, points }
    }

    /// Yokohama-style bands (2,000/4,000/6,000/8,000/10,000 for 1–5), Kamaishi-style
    /// lower thresholds from 65, Saitama-style monthly bonus.
    fn rules() -> PointsRules {
        PointsRules {
            bands: vec![
                band(2000, 1),
                band(4000, 2),
                band(6000, 3),
                band(8000, 4),
                band(10000, 5),
            ],
            daily_cap: Some(5),
            age_bands: vec![AgeBands {
                min_age: 65,
                bands: vec![band(4000, 3), band(6000, 5)],
            }],
            bonus: vec![Bonus {
                name: "毎日1万歩達成".into(),
                min_days: 20,
                min_steps: 10000,
                points: 20,
            }],
        }
    }

    fn scorer() -> Scorer {
        Scorer::from_rules(&rules(), d(2025, 5, 14), d(2026, 3, 31), None)
    }

    #[test]
    fn every_band_edge() {
        let s = scorer();
        let t = s.table_for(Some(40));
        for (steps, points) in [
            (0, 0),
            (1999, 0),
            (2000, 1),
            (3999, 1),
            (4000, 2),
            (5999, 2),
            (6000, 3),
            (7999, 3),
            (8000, 4),
            (9999, 4),
            (10000, 5),
            (59999, 5),
        ] {
            assert_eq!(s.day_points(t, steps), points, "{steps} steps");
        }
    }

    #[test]
    fn the_daily_cap_cuts_a_high_band() {
        let mut r = rules();
        r.daily_cap = Some(3);
        let s = Scorer::from_rules(&r, d(2025, 5, 14), d(2026, 3, 31), None);
        let t = s.table_for(None);
        assert_eq!(s.day_points(t, 5999), 2);
        assert_eq!(s.day_points(t, 6000), 3);
        assert_eq!(s.day_points(t, 8000), 3);
        assert_eq!(s.day_points(t, 12000), 3);
        assert!(s.capped(t, 8000));
        assert!(!s.capped(t, 6000));
        r.daily_cap = None;
        let s = Scorer::from_rules(&r, d(2025, 5, 14), d(2026, 3, 31), None);
        assert_eq!(s.day_points(s.table_for(None), 12000), 5);
    }

    #[test]
    fn age_switches_on_the_birthday() {
        let start = d(2025, 5, 14);
        // 65 on the start date itself: the 65+ table.
        assert_eq!(age_on(d(1960, 5, 14), start), Some(65));
        // The 65th birthday one day after the start: still 64 for the whole program.
        assert_eq!(age_on(d(1960, 5, 15), start), Some(64));
        assert_eq!(age_on(d(1960, 5, 13), start), Some(65));
        // Born on 29 February: a year older on 1 March of a common year.
        assert_eq!(age_on(d(1960, 2, 29), d(2025, 2, 28)), Some(64));
        assert_eq!(age_on(d(1960, 2, 29), d(2025, 3, 1)), Some(65));

        let s = scorer();
        let older = s.table_for(rules_age(Some("1960-05-14"), None, start));
        let younger = s.table_for(rules_age(Some("1960-05-15"), None, start));
        assert_eq!(s.day_points(older, 4000), 3);
        assert_eq!(s.day_points(older, 3999), 0);
        assert_eq!(s.day_points(older, 6000), 5);
        assert_eq!(s.day_points(younger, 4000), 2);
        assert_eq!(s.day_points(younger, 3999), 1);
        assert_eq!(s.table_name(older), "65歳以上");
        assert_eq!(s.table_name(younger), "標準");
    }

    #[test]
    fn the_age_column_is_used_only_without_a_birth_date() {
        let start = d(2025, 5, 14);
        assert_eq!(rules_age(None, Some(70), start), Some(70));
        assert_eq!(rules_age(Some("1990-01-01"), Some(70), start), Some(35));
        assert_eq!(rules_age(None, None, start), None);
        let s = scorer();
        assert_eq!(s.table_for(None), s.table_for(Some(64)));
        assert_ne!(s.table_for(Some(65)), s.table_for(Some(64)));
    }

    #[test]
    fn the_highest_age_entry_reached_applies() {
        let mut r = rules();
        r.age_bands.push(AgeBands {
            min_age: 75,
            bands: vec![band(3000, 5)],
        });
        let s = Scorer::from_rules(&r, d(2025, 5, 14), d(2026, 3, 31), None);
        assert_eq!(s.day_points(s.table_for(Some(74)), 3000), 0);
        assert_eq!(s.day_points(s.table_for(Some(75)), 3000), 5);
        assert_eq!(s.day_points(s.table_for(Some(90)), 3000), 5);
    }

    /// `n` days from `first` with `steps` each.
    fn days(first: NaiveDate, n: u64, steps: i64) -> Vec<(NaiveDate, i64)> {
        (0..n)
            .map(|i| (first + chrono::Days::new(i), steps))
            .collect()
    }

    #[test]
    fn a_bonus_month_reached_and_missed_by_one_day() {
        let s = scorer();
        // June: 20 days of 10,000 steps and the rest at 9,999.
        let mut june = days(d(2025, 6, 1), 20, 10000);
        june.extend(days(d(2025, 6, 21), 10, 9999));
        let got = score(&s, Some(40), &june);
        assert_eq!(got.bonus_points, 20);
        assert_eq!(
            got.bonuses,
            vec![BonusAward {
                year: 2025,
                month: 6,
                bonus: 0,
                days: 20,
                points: 20
            }]
        );
        assert_eq!(got.day_points, 20 * 5 + 10 * 4);

        // July: 19 days of 10,000 (one short) and 12 of 9,999: no bonus.
        let mut july = days(d(2025, 7, 1), 19, 10000);
        july.extend(days(d(2025, 7, 20), 12, 9999));
        let got = score(&s, Some(40), &july);
        assert_eq!(got.bonus_points, 0);
        assert!(got.bonuses.is_empty());

        // Days across a month boundary do not add up: 10 at the end of June and 10 at
        // the start of July are two months of 10.
        let mut split = days(d(2025, 6, 21), 10, 12000);
        split.extend(days(d(2025, 7, 1), 10, 12000));
        assert_eq!(score(&s, None, &split).bonus_points, 0);
    }

    #[test]
    fn bonuses_count_each_month_and_each_rule() {
        let mut r = rules();
        r.bonus.push(Bonus {
            name: "5千歩 10日".into(),
            min_days: 10,
            min_steps: 5000,
            points: 3,
        });
        let s = Scorer::from_rules(&r, d(2025, 5, 14), d(2026, 3, 31), None);
        let mut all = days(d(2025, 6, 1), 30, 10000);
        all.extend(days(d(2026, 1, 1), 31, 10000));
        let got = score(&s, None, &all);
        assert_eq!(got.bonus_points, 2 * (20 + 3));
        let months: Vec<(i32, u32, usize)> = got
            .bonuses
            .iter()
            .map(|b| (b.year, b.month, b.bonus))
            .collect();
        assert_eq!(
            months,
            vec![(2025, 6, 0), (2025, 6, 1), (2026, 1, 0), (2026, 1, 1)]
        );
    }

    #[test]
    fn days_outside_the_period_earn_nothing() {
        let s = scorer();
        let got = score(
            &s,
            None,
            &[
                (d(2025, 5, 13), 12000), // the day before the start
                (d(2025, 5, 14), 12000), // the start
                (d(2026, 3, 31), 12000), // the end
                (d(2026, 4, 1), 12000),  // the day after the end
            ],
        );
        assert_eq!(got.days, 2);
        assert_eq!(got.steps, 24000);
        assert_eq!(got.day_points, 10);

        // May before the start does not count toward May's bonus either.
        let got = score(&s, None, &days(d(2025, 5, 1), 31, 12000));
        assert_eq!(got.days, 18);
        assert_eq!(got.bonus_points, 0);
    }

    #[test]
    fn the_as_of_date_is_the_last_day_counted() {
        let r = rules();
        let s = Scorer::from_rules(&r, d(2025, 5, 14), d(2026, 3, 31), Some(d(2025, 6, 19)));
        let got = score(&s, None, &days(d(2025, 6, 1), 30, 10000));
        assert_eq!(got.days, 19);
        assert_eq!(got.bonus_points, 0);
        let s = Scorer::from_rules(&r, d(2025, 5, 14), d(2026, 3, 31), Some(d(2025, 6, 20)));
        let got = score(&s, None, &days(d(2025, 6, 1), 30, 10000));
        assert_eq!(got.days, 20);
        assert_eq!(got.bonus_points, 20);
        // An as-of date before the start counts nothing.
        let s = Scorer::from_rules(&r, d(2025, 5, 14), d(2026, 3, 31), Some(d(2025, 1, 1)));
        assert_eq!(
            score(&s, None, &days(d(2025, 6, 1), 30, 10000)),
            Score::default()
        );
    }

    #[test]
    fn the_order_of_days_does_not_matter() {
        let s = scorer();
        let mut all = days(d(2025, 6, 1), 30, 10000);
        all.extend(days(d(2025, 7, 1), 31, 4500));
        let forward = score(&s, Some(70), &all);
        all.reverse();
        assert_eq!(score(&s, Some(70), &all), forward);
        assert_eq!(forward.day_points, 30 * 5 + 31 * 3);
    }
}

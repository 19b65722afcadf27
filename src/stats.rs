//! The statistics of the evaluation report (評価及び検証), as pure functions with their
//! hand-checked tests: means and standard deviations, the paired comparison with its 95%
//! confidence interval (Student's t, computed, not looked up), age bands, the 健康日本21
//! （第三次） step targets and the 令和元年 baseline, and small-cell suppression (秘匿) with its complementary rule.

use chrono::NaiveDate;

/// Fewer people than this in a cell and the cell is not shown.
pub const MIN_CELL: i64 = 5;

/// Arithmetic mean; `None` for no values.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    Some(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (n − 1 in the denominator); `None` below two values.
pub fn sample_sd(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const EPS: f64 = 1e-15;
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..100_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b).
fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// P(T ≤ t) for Student's t with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * inc_beta(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The `p` quantile of Student's t with `df` degrees of freedom (df ≥ 1), found by
/// bisection on the exact distribution function: `t_quantile(0.975, 4)` = 2.776.
pub fn t_quantile(p: f64, df: u64) -> f64 {
    if !(0.0..1.0).contains(&p) || p == 0.0 || df == 0 {
        return f64::NAN;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    // Beyond ten million degrees of freedom t is the normal distribution to far more
    // digits than a report prints.
    let df = (df as f64).min(1e7);
    let (mut lo, mut hi) = (0.0f64, 2.0f64);
    while t_cdf(hi, df) < p {
        lo = hi;
        hi *= 2.0;
        if hi > 1e12 {
            break;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Before and after for the same people, compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    pub n: usize,
    pub mean_before: f64,
    pub mean_after: f64,
    /// Mean of (after − before).
    pub mean_diff: f64,
    /// Sample SD of the differences (n ≥ 2).
    pub sd_diff: Option<f64>,
    /// 95% confidence interval of the mean difference, t with n − 1 df (n ≥ 2).
    pub ci95: Option<(f64, f64)>,
    /// People whose after is above their before.
    pub increased: usize,
    pub unchanged: usize,
    pub decreased: usize,
}

/// Compare `(before, after)` pairs; `None` for no pairs.
pub fn paired(pairs: &[(f64, f64)]) -> Option<Paired> {
    if pairs.is_empty() {
        return None;
    }
    let before: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let after: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let diffs: Vec<f64> = pairs.iter().map(|p| p.1 - p.0).collect();
    let n = pairs.len();
    let mean_diff = mean(&diffs)?;
    let sd_diff = sample_sd(&diffs);
    let ci95 = sd_diff.map(|sd| {
        let half = t_quantile(0.975, (n - 1) as u64) * sd / (n as f64).sqrt();
        (mean_diff - half, mean_diff + half)
    });
    Some(Paired {
        n,
        mean_before: mean(&before)?,
        mean_after: mean(&after)?,
        mean_diff,
        sd_diff,
        ci95,
        increased: diffs.iter().filter(|d| **d > 0.0).count(),
        unchanged: diffs.iter().filter(|d| **d == 0.0).count(),
        decreased: diffs.iter().filter(|d| **d < 0.0).count(),
    })
}

/// The report's age bands: ten-year bands, with the sixties split at 65 so that every
/// band lies wholly inside one 健康日本21 target group (20〜64 / 65〜), and the young
/// folded into 〜29 because programs of this kind have too few of them to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgeBand {
    To29,
    From30,
    From40,
    From50,
    From60To64,
    From65To74,
    From75,
    Unknown,
}

/// The bands in report order (without `Unknown`, shown only when someone has no age).
pub const AGE_BANDS: [AgeBand; 7] = [
    AgeBand::To29,
    AgeBand::From30,
    AgeBand::From40,
    AgeBand::From50,
    AgeBand::From60To64,
    AgeBand::From65To74,
    AgeBand::From75,
];

impl AgeBand {
    pub fn label(self) -> &'static str {
        match self {
            AgeBand::To29 => "〜29歳",
            AgeBand::From30 => "30〜39歳",
            AgeBand::From40 => "40〜49歳",
            AgeBand::From50 => "50〜59歳",
            AgeBand::From60To64 => "60〜64歳",
            AgeBand::From65To74 => "65〜74歳",
            AgeBand::From75 => "75歳〜",
            AgeBand::Unknown => "年齢不明",
        }
    }
}

/// The band of an age in whole years (`None`: not known).
pub fn age_band(age: Option<u32>) -> AgeBand {
    match age {
        None => AgeBand::Unknown,
        Some(a) if a < 30 => AgeBand::To29,
        Some(a) if a < 40 => AgeBand::From30,
        Some(a) if a < 50 => AgeBand::From40,
        Some(a) if a < 60 => AgeBand::From50,
        Some(a) if a < 65 => AgeBand::From60To64,
        Some(a) if a < 75 => AgeBand::From65To74,
        Some(_) => AgeBand::From75,
    }
}

/// Sex as the report groups it: the two the 健康日本21 targets name, and the rest
/// (その他, 無回答, not keyed) together, so that small groups are not shown one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SexGroup {
    Male,
    Female,
    Other,
}

pub const SEX_GROUPS: [SexGroup; 3] = [SexGroup::Male, SexGroup::Female, SexGroup::Other];

impl SexGroup {
    /// From the stored 性別 (男/女/その他/無回答 or nothing).
    pub fn from_stored(s: Option<&str>) -> SexGroup {
        match s {
            Some("男") => SexGroup::Male,
            Some("女") => SexGroup::Female,
            _ => SexGroup::Other,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SexGroup::Male => "男性",
            SexGroup::Female => "女性",
            SexGroup::Other => "その他・無回答",
        }
    }
}

/// Where the targets come from, as the report names it.
pub const TARGET_SOURCE: &str = "目標値: 厚生労働省「健康日本21（第三次）推進のための説明資料」（令和5年5月）、1日の歩数の平均値の目標（令和14年度）: 20〜64歳 8,000歩、65歳以上 6,000歩（男女とも）、全体 7,100歩。";
/// Where the national baseline comes from, as the report names it.
pub const BASELINE_SOURCE: &str = "基準値: 令和元年 国民健康・栄養調査（厚生労働省）の1日の歩数の平均値（健康日本21（第三次）のベースライン）: 20〜64歳 男性 7,864歩・女性 6,685歩、65歳以上 男性 5,396歩・女性 4,656歩、総数 6,278歩。";
/// 健康日本21（第三次）: the target for everyone aged 20 and over together.
pub const OVERALL_TARGET: i64 = 7100;
/// 令和元年 国民健康・栄養調査: 総数 (20 and over, both sexes).
pub const BASELINE_TOTAL: i64 = 6278;
/// The first-month mean below which a participant is in the low-activity class (the
/// usual 無関心層 proxy), unless the program file sets `report.baseline_threshold`.
pub const DEFAULT_BASELINE_THRESHOLD: i64 = 8000;

/// The 健康日本21（第三次） target groups for 1日の歩数の平均値 (令和6年度〜): 20〜64 歳
/// 8,000 歩、65 歳以上 6,000 歩, the same for both sexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetGroup {
    Adult,
    Senior,
}

pub const TARGET_GROUPS: [TargetGroup; 2] = [TargetGroup::Adult, TargetGroup::Senior];

impl TargetGroup {
    pub fn steps(self) -> i64 {
        match self {
            TargetGroup::Adult => 8000,
            TargetGroup::Senior => 6000,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            TargetGroup::Adult => "20〜64歳",
            TargetGroup::Senior => "65歳以上",
        }
    }
    /// The 令和元年 national mean for this group and sex (`None` for その他・無回答,
    /// which the survey does not publish).
    pub fn baseline(self, sex: SexGroup) -> Option<i64> {
        match (self, sex) {
            (TargetGroup::Adult, SexGroup::Male) => Some(7864),
            (TargetGroup::Adult, SexGroup::Female) => Some(6685),
            (TargetGroup::Senior, SexGroup::Male) => Some(5396),
            (TargetGroup::Senior, SexGroup::Female) => Some(4656),
            (_, SexGroup::Other) => None,
        }
    }
}

/// The target a participant is held against: `None` under 20 or with no age.
pub fn target_group(age: Option<u32>) -> Option<TargetGroup> {
    match age? {
        0..=19 => None,
        20..=64 => Some(TargetGroup::Adult),
        _ => Some(TargetGroup::Senior),
    }
}

/// Whether steps (a day's, or a person's mean) reach the target (the target itself counts
/// as reached).
pub fn meets_target(group: TargetGroup, steps: f64) -> bool {
    steps >= group.steps() as f64
}

/// A month as the report lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn of(d: NaiveDate) -> Month {
        use chrono::Datelike;
        Month {
            year: d.year(),
            month: d.month(),
        }
    }
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
    /// `2025年5月`.
    pub fn label(self) -> String {
        format!("{}年{}月", self.year, self.month)
    }
}

/// One cell of a table subject to suppression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CellId(usize);

/// Small-cell suppression (秘匿) for a set of tables.
///
/// Every count of people is registered here, with the sums that tie counts together
/// (a total and its parts, which a reader can subtract). Primary rule: a count of 1〜4
/// people is hidden (0 is shown: it describes no one). Complementary rule, applied until
/// nothing changes: in every sum whose total is shown, the hidden parts must be at least
/// two and count at least 5 people together, otherwise the smallest shown non-zero part
/// is hidden too (and where no part is left, the total); in every sum whose total is
/// hidden, at least one part must be hidden as well. Figures computed from a count's
/// people (means, shares, quantities) are hidden with it.
#[derive(Debug, Default, Clone)]
pub struct Disclosure {
    value: Vec<i64>,
    hidden: Vec<bool>,
    sums: Vec<(usize, Vec<usize>)>,
}

impl Disclosure {
    pub fn new() -> Disclosure {
        Disclosure::default()
    }

    /// A count of `n` people.
    pub fn people(&mut self, n: i64) -> CellId {
        self.count_by(n, n)
    }

    /// A count of something else (applications, answers) made by `people` people: its
    /// value takes part in the sums, its people decide the primary rule.
    pub fn count_by(&mut self, value: i64, people: i64) -> CellId {
        self.value.push(value);
        self.hidden.push((1..MIN_CELL).contains(&people));
        CellId(self.value.len() - 1)
    }

    /// `total` = the sum of `parts`, as a reader could check.
    pub fn sum(&mut self, total: CellId, parts: &[CellId]) {
        self.sums
            .push((total.0, parts.iter().map(|c| c.0).collect()));
    }

    /// Apply the complementary rule until every sum is safe.
    pub fn finish(&mut self) {
        loop {
            let mut changed = false;
            for (total, parts) in &self.sums {
                let hidden_parts: Vec<usize> =
                    parts.iter().copied().filter(|&p| self.hidden[p]).collect();
                let hidden_sum: i64 = hidden_parts.iter().map(|&p| self.value[p]).sum();
                let safe = if self.hidden[*total] {
                    !hidden_parts.is_empty() || parts.iter().all(|&p| self.value[p] == 0)
                } else {
                    hidden_parts.is_empty() || (hidden_parts.len() >= 2 && hidden_sum >= MIN_CELL)
                };
                if safe {
                    continue;
                }
                let next = parts
                    .iter()
                    .copied()
                    .filter(|&p| !self.hidden[p] && self.value[p] > 0)
                    .min_by_key(|&p| (self.value[p], p));
                match next {
                    Some(p) => self.hidden[p] = true,
                    None => self.hidden[*total] = true,
                }
                changed = true;
            }
            if !changed {
                break;
            }
        }
    }

    pub fn is_hidden(&self, c: CellId) -> bool {
        self.hidden[c.0]
    }

    pub fn value(&self, c: CellId) -> i64 {
        self.value[c.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn means_and_sd() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[2.0, 4.0, 9.0]), Some(5.0));
        assert_eq!(sample_sd(&[3.0]), None);
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squares sum 32, 32/7.
        let sd = sample_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert!(close(sd, (32.0f64 / 7.0).sqrt(), 1e-12), "{sd}");
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        for (df, want) in [
            (1, 12.706_204_7),
            (2, 4.302_652_7),
            (4, 2.776_445_1),
            (10, 2.228_138_9),
            (29, 2.045_229_6),
            (100, 1.983_971_5),
            (1000, 1.962_339_4),
        ] {
            let t = t_quantile(0.975, df);
            assert!(close(t, want, 1e-6), "df {df}: {t} vs {want}");
        }
        assert!(close(t_quantile(0.95, 5), 2.015_048_4, 1e-6));
        assert!(close(t_quantile(0.025, 4), -2.776_445_1, 1e-6));
        // Towards the normal distribution.
        assert!(close(t_quantile(0.975, 100_000_000), 1.959_964, 1e-5));
        assert!(t_quantile(0.975, 0).is_nan());
    }

    #[test]
    fn paired_difference_and_interval_by_hand() {
        // Differences 500, 100, 600, 0, 800: mean 400; deviations 100, −300, 200,
        // −400, 400; squares 460,000 / 4 = 115,000; sd 339.1165; se 151.6575;
        // t(0.975, 4) 2.7764451 → half-width 421.0687.
        let pairs = [
            (5000.0, 5500.0),
            (6000.0, 6100.0),
            (7000.0, 7600.0),
            (8000.0, 8000.0),
            (9000.0, 9800.0),
        ];
        let p = paired(&pairs).unwrap();
        assert_eq!(p.n, 5);
        assert!(close(p.mean_before, 7000.0, 1e-9));
        assert!(close(p.mean_after, 7400.0, 1e-9));
        assert!(close(p.mean_diff, 400.0, 1e-9));
        assert!(close(p.sd_diff.unwrap(), 115_000f64.sqrt(), 1e-9));
        let (lo, hi) = p.ci95.unwrap();
        assert!(close(lo, 400.0 - 421.0687, 1e-3), "{lo}");
        assert!(close(hi, 400.0 + 421.0687, 1e-3), "{hi}");
        assert_eq!((p.increased, p.unchanged, p.decreased), (4, 1, 0));
        let one = paired(&[(1.0, 3.0)]).unwrap();
        assert_eq!(one.ci95, None);
        assert_eq!(paired(&[]), None);
    }

    #[test]
    fn age_bands_at_their_edges() {
        assert_eq!(age_band(None), AgeBand::Unknown);
        assert_eq!(age_band(Some(15)), AgeBand::To29);
        assert_eq!(age_band(Some(29)), AgeBand::To29);
        assert_eq!(age_band(Some(30)), AgeBand::From30);
        assert_eq!(age_band(Some(59)), AgeBand::From50);
        assert_eq!(age_band(Some(60)), AgeBand::From60To64);
        assert_eq!(age_band(Some(64)), AgeBand::From60To64);
        assert_eq!(age_band(Some(65)), AgeBand::From65To74);
        assert_eq!(age_band(Some(74)), AgeBand::From65To74);
        assert_eq!(age_band(Some(75)), AgeBand::From75);
        assert_eq!(age_band(Some(102)), AgeBand::From75);
    }

    #[test]
    fn targets_by_age_and_sex() {
        use SexGroup::*;
        assert_eq!(target_group(Some(19)), None);
        assert_eq!(target_group(None), None);
        assert_eq!(target_group(Some(20)), Some(TargetGroup::Adult));
        assert_eq!(target_group(Some(64)), Some(TargetGroup::Adult));
        assert_eq!(target_group(Some(65)), Some(TargetGroup::Senior));
        assert_eq!(target_group(Some(90)), Some(TargetGroup::Senior));
        // 健康日本21（第三次）: 8,000 and 6,000, any sex; not the 第二次 9,000/8,500/7,000.
        assert!(meets_target(TargetGroup::Adult, 8000.0));
        assert!(!meets_target(TargetGroup::Adult, 7999.9));
        assert!(meets_target(TargetGroup::Senior, 6000.0));
        assert!(!meets_target(TargetGroup::Senior, 5999.0));
        assert_eq!(OVERALL_TARGET, 7100);
        assert_eq!(TargetGroup::Adult.baseline(Male), Some(7864));
        assert_eq!(TargetGroup::Adult.baseline(Female), Some(6685));
        assert_eq!(TargetGroup::Senior.baseline(Male), Some(5396));
        assert_eq!(TargetGroup::Senior.baseline(Female), Some(4656));
        assert_eq!(TargetGroup::Senior.baseline(Other), None);
        assert_eq!(BASELINE_TOTAL, 6278);
    }

    #[test]
    fn months_roll_over() {
        let m = Month::of(NaiveDate::from_ymd_opt(2025, 12, 3).unwrap());
        assert_eq!(
            m.next(),
            Month {
                year: 2026,
                month: 1
            }
        );
        assert_eq!(m.label(), "2025年12月");
    }

    #[test]
    fn primary_suppression_hides_one_to_four() {
        let mut d = Disclosure::new();
        let cells: Vec<CellId> = [0, 1, 4, 5, 100].iter().map(|&n| d.people(n)).collect();
        d.finish();
        let hidden: Vec<bool> = cells.iter().map(|&c| d.is_hidden(c)).collect();
        assert_eq!(hidden, [false, true, true, false, false]);
    }

    #[test]
    fn a_lone_hidden_part_of_a_total_takes_the_next_smallest_with_it() {
        // 3 + 12 + 40 = 55: 3 alone could be recovered as 55 − 12 − 40.
        let mut d = Disclosure::new();
        let parts = [d.people(3), d.people(12), d.people(40)];
        let total = d.people(55);
        d.sum(total, &parts);
        d.finish();
        assert!(d.is_hidden(parts[0]));
        assert!(d.is_hidden(parts[1]));
        assert!(!d.is_hidden(parts[2]));
        assert!(!d.is_hidden(total));
    }

    #[test]
    fn hidden_parts_must_add_up_to_five_people() {
        // 1 + 2 hidden would tell that 3 people are in the two groups together; zeros
        // do not help, so the 6 goes too.
        let mut d = Disclosure::new();
        let parts = [
            d.people(1),
            d.people(2),
            d.people(0),
            d.people(6),
            d.people(30),
        ];
        let total = d.people(39);
        d.sum(total, &parts);
        d.finish();
        let hidden: Vec<bool> = parts.iter().map(|&c| d.is_hidden(c)).collect();
        assert_eq!(hidden, [true, true, false, true, false]);
        assert!(!d.is_hidden(total));
    }

    #[test]
    fn two_safe_hidden_parts_need_nothing_more() {
        let mut d = Disclosure::new();
        let parts = [d.people(3), d.people(4), d.people(20)];
        let total = d.people(27);
        d.sum(total, &parts);
        d.finish();
        assert!(d.is_hidden(parts[0]) && d.is_hidden(parts[1]));
        assert!(!d.is_hidden(parts[2]) && !d.is_hidden(total));
    }

    #[test]
    fn a_small_total_is_hidden_with_its_parts() {
        let mut d = Disclosure::new();
        let parts = [d.people(2), d.people(0)];
        let total = d.people(2);
        d.sum(total, &parts);
        d.finish();
        assert!(d.is_hidden(total) && d.is_hidden(parts[0]));
        assert!(!d.is_hidden(parts[1]));
    }

    #[test]
    fn a_hidden_part_equal_to_its_total_hides_the_total() {
        // A part hidden by another sum is the whole of this one: 0 + 7 = 7.
        let mut d = Disclosure::new();
        let a = d.people(0);
        let b = d.people(7);
        let total = d.people(7);
        d.sum(total, &[a, b]);
        let other_total = d.people(9);
        let c = d.people(2);
        d.sum(other_total, &[b, c]);
        d.finish();
        assert!(d.is_hidden(c) && d.is_hidden(b));
        assert!(d.is_hidden(total), "7 − 0 would give the hidden 7 back");
    }

    #[test]
    fn suppression_spreads_across_rows_and_columns() {
        // 受付 + 却下 = 申込み for each prize, and each column adds up to its total.
        //        受付 却下 申込み
        // A       20    3    23
        // B       30    8    38
        // 計      50   11    61
        let mut d = Disclosure::new();
        let (a_ok, a_ng, a_all) = (d.people(20), d.people(3), d.people(23));
        let (b_ok, b_ng, b_all) = (d.people(30), d.people(8), d.people(38));
        let (t_ok, t_ng, t_all) = (d.people(50), d.people(11), d.people(61));
        d.sum(a_all, &[a_ok, a_ng]);
        d.sum(b_all, &[b_ok, b_ng]);
        d.sum(t_all, &[t_ok, t_ng]);
        d.sum(t_ok, &[a_ok, b_ok]);
        d.sum(t_ng, &[a_ng, b_ng]);
        d.sum(t_all, &[a_all, b_all]);
        d.finish();
        // A's 却下 (3) is hidden; so must be A's 受付 (row) and B's 却下 (column), then
        // B's 受付 (its row and column each hold one hidden cell otherwise).
        for c in [a_ng, a_ok, b_ng, b_ok] {
            assert!(d.is_hidden(c));
        }
        for c in [t_ok, t_ng, t_all, a_all, b_all] {
            assert!(!d.is_hidden(c));
        }
    }
}

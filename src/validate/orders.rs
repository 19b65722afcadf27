//! The rules of a prize application (景品申込み): `参加者番号, 景品コード, 数量, 申込日`.
//! Pure: a row reads into an application or its problems ([`read_row`]); a readable
//! application is granted or refused from the participant's standing ([`decide`]).

use super::fields::{cell_date, check_participant_id, date_problem, problem, PARTICIPANT};
use super::header::{ColumnDef, Header};
use super::Problem;
use crate::points::{Scorer, Table};
use crate::program::{Prize, Program};
use crate::sheet::normalize::{float_to_int, normalize, parse_int, IntParse};
use crate::sheet::{CellRef, Row};
use anyhow::Result;
use chrono::NaiveDate;

pub const COLUMNS: &[ColumnDef] = &[
    PARTICIPANT,
    ColumnDef {
        key: "prize_code",
        names: &["景品コード", "景品番号", "prize_code", "prize"],
        required: true,
    },
    ColumnDef {
        key: "quantity",
        names: &["数量", "個数", "quantity"],
        required: true,
    },
    ColumnDef {
        key: "applied_on",
        names: &["申込日", "申込年月日", "受付日", "applied_on"],
        required: true,
    },
];

/// The most of one prize a single application row may ask for.
pub const MAX_QUANTITY: i64 = 99;

/// What the participant asked for, once the row reads.
pub struct Application {
    pub pid: String,
    pub code: String,
    pub quantity: i64,
    pub applied_on: NaiveDate,
}

/// The program's prize codes, for messages.
pub fn codes(program: &Program) -> String {
    program
        .prizes
        .iter()
        .map(|p| p.code.as_str())
        .collect::<Vec<_>>()
        .join("、")
}

/// Read a row into an application, or report why it cannot be one. `known` says
/// whether a participant number is in the roster.
pub fn read_row(
    h: &Header,
    row: &Row,
    program: &Program,
    today: NaiveDate,
    known: &mut dyn FnMut(&str) -> Result<bool>,
    out: &mut Vec<Problem>,
) -> Result<Option<Application>> {
    let before = out.len();
    let (Some(pc), Some(zc), Some(qc), Some(dc)) = (
        h.col("participant_id"),
        h.col("prize_code"),
        h.col("quantity"),
        h.col("applied_on"),
    ) else {
        return Ok(None);
    };
    let pid = normalize(&row.raw_text(pc)).into_owned();
    if let Err(msg) = check_participant_id(&pid) {
        out.push(problem(h, row, pc, "participant.id_invalid", msg.into()));
    } else if !known(&pid)? {
        out.push(problem(
            h,
            row,
            pc,
            "participant.unknown",
            format!("参加者番号 {pid} は名簿にありません。申込書の番号を確かめてください"),
        ));
    }
    // Read exactly as the program file's prizes[i].code is (one rule: program::prize_code).
    let code = match crate::program::prize_code(&row.raw_text(zc)) {
        Ok(code) => code,
        Err(crate::program::PrizeCodeError::Empty) => {
            out.push(problem(
                h,
                row,
                zc,
                "prize.code_invalid",
                "景品コードが空です。申込書の景品コードを入力してください".into(),
            ));
            String::new()
        }
        Err(crate::program::PrizeCodeError::Unreadable(code)) => {
            out.push(problem(
                h,
                row,
                zc,
                "prize.code_invalid",
                format!(
                    "景品コードとして読めません（英数字）。使えるコード: {}",
                    codes(program)
                ),
            ));
            code
        }
    };
    let quantity = match row.get(qc) {
        CellRef::Empty => None,
        CellRef::Number(f) => Some(float_to_int(f)),
        CellRef::Text(s) => {
            let n = normalize(s);
            (!n.is_empty()).then(|| parse_int(n.trim_end_matches(['個', '点'])))
        }
        _ => Some(IntParse::NotANumber),
    };
    let quantity = match quantity {
        Some(IntParse::Int(q)) if (1..=MAX_QUANTITY).contains(&q) => q,
        None => {
            out.push(problem(
                h,
                row,
                qc,
                "quantity.missing",
                "数量が空です。申込書の数量（ふつうは 1）を入力してください".into(),
            ));
            0
        }
        Some(_) => {
            out.push(problem(
                h,
                row,
                qc,
                "quantity.invalid",
                format!("数量は 1〜{MAX_QUANTITY} の整数で入力してください"),
            ));
            0
        }
    };
    let applied_on = match cell_date(row.get(dc)) {
        Ok(d) if d < program.program.start => {
            out.push(problem(
                h,
                row,
                dc,
                "date.out_of_period",
                format!(
                    "申込日 {d} が事業の開始日 {} より前です。申込書の日付を確かめてください",
                    program.program.start
                ),
            ));
            None
        }
        Ok(d) if d > today => {
            out.push(problem(
                h,
                row,
                dc,
                "date.future",
                format!(
                    "申込日 {d} は今日（{}）より後です。申込書の日付を確かめてください",
                    today
                ),
            ));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            out.push(date_problem(h, row, dc, e));
            None
        }
    };
    if out.len() > before {
        return Ok(None);
    }
    Ok(applied_on.map(|applied_on| Application {
        pid,
        code,
        quantity,
        applied_on,
    }))
}

/// A refused application: its code, the message for the participant, and its cost.
pub type Refusal = (&'static str, String, i64);

/// What the decision needs to know of the participant, as of this application (orders
/// accepted earlier in the same file included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// A postal code and an address to ship to.
    pub has_address: bool,
    /// Points earned less points used.
    pub balance: i64,
    /// Of this prize, the quantity already accepted for the participant.
    pub had: i64,
    /// Of this prize, the quantity already accepted for everyone.
    pub taken: i64,
}

/// The prize an application names (both codes read through `program::prize_code`), or its refusal.
pub fn find_prize<'p>(program: &'p Program, code: &str) -> std::result::Result<&'p Prize, Refusal> {
    program
        .prizes
        .iter()
        .find(|p| p.code == code)
        .ok_or_else(|| {
            (
                "prize.unknown",
                format!(
                    "景品コード {code} はこの事業の景品にありません（あるコード: {}）",
                    codes(program)
                ),
                0,
            )
        })
}

/// Grant or refuse one application of `quantity` of `prize`: `Ok(cost)` accepted. The
/// checks go in the order a participant is told: address, per-person limit, points,
/// stock.
pub fn decide(prize: &Prize, quantity: i64, s: &Standing) -> std::result::Result<i64, Refusal> {
    let cost = prize.points * quantity;
    let what = format!("{}「{}」× {}", prize.code, prize.name, quantity);
    if !s.has_address {
        return Err((
            "participant.no_address",
            format!("{what}: 名簿に郵便番号・住所がないため発送できません。住所を確かめ、名簿を更新してから申し込み直してもらってください"),
            cost,
        ));
    }
    if let Some(limit) = prize.per_person {
        if s.had + quantity > limit {
            return Err((
                "prize.per_person_limit",
                format!(
                    "{what}: この景品は 1 人 {limit} 個までで、既に {} 個を受け付けています",
                    s.had
                ),
                cost,
            ));
        }
    }
    if s.balance < cost {
        return Err((
            "points.insufficient",
            format!(
                "{what}: {cost} ポイントが必要ですが、残高は {} ポイントです",
                s.balance
            ),
            cost,
        ));
    }
    if s.taken + quantity > prize.stock {
        return Err((
            "prize.out_of_stock",
            format!(
                "{what}: 在庫 {} 個のうち残りは {} 個です",
                prize.stock,
                (prize.stock - s.taken).max(0)
            ),
            cost,
        ));
    }
    Ok(cost)
}

/// One participant's points earned by any date, from one pass over their stored days.
///
/// Built once per participant (days in date order, inside the program period, as
/// `(days from the start, steps)`): each entry is a day on which the earned total
/// moves, with the total up to and including that day (its day points, plus a monthly
/// bonus on the day its month reaches the bonus's `min_days`). An application dated D
/// then reads `points --as-of D`'s earned points by a binary search, without scoring
/// the days again.
pub struct Earnings {
    start: NaiveDate,
    end: NaiveDate,
    offsets: Vec<u16>,
    totals: Vec<i64>,
    /// Points per counted month of the bonuses that need no day (`min_days = 0`).
    monthly: i64,
}

/// Months from `start`'s month to `d`'s month (0 for the same month).
fn month_index(start: NaiveDate, d: NaiveDate) -> usize {
    use chrono::Datelike;
    let n = (d.year() - start.year()) * 12 + d.month() as i32 - start.month() as i32;
    n.max(0) as usize
}

impl Earnings {
    /// `scorer` counts the whole period (`Scorer::new(program, None)`); `end` is the
    /// program's last day.
    pub fn new(scorer: &Scorer, table: Table, end: NaiveDate, days: &[(u16, u32)]) -> Earnings {
        let start = scorer.start();
        let bonus = scorer.bonuses();
        let mut hits = vec![0u32; bonus.len()];
        let mut month = usize::MAX;
        let mut total = 0i64;
        let mut offsets = Vec::new();
        let mut totals = Vec::new();
        for &(offset, steps) in days {
            let d = start + chrono::Days::new(u64::from(offset));
            let steps = i64::from(steps);
            let m = month_index(start, d);
            if m != month {
                hits.iter_mut().for_each(|h| *h = 0);
                month = m;
            }
            let mut add = scorer.day_points(table, steps);
            for (h, b) in hits.iter_mut().zip(bonus) {
                if steps >= b.min_steps {
                    *h += 1;
                    if b.min_days >= 1 && *h == b.min_days {
                        add += b.points;
                    }
                }
            }
            if add != 0 {
                total += add;
                offsets.push(offset);
                totals.push(total);
            }
        }
        offsets.shrink_to_fit();
        totals.shrink_to_fit();
        let monthly = bonus
            .iter()
            .filter(|b| b.min_days == 0)
            .map(|b| b.points)
            .sum();
        Earnings {
            start,
            end,
            offsets,
            totals,
            monthly,
        }
    }

    /// Points earned on days up to and including `on`, bonuses included (what
    /// `Scorer::new(program, Some(on))` gives for the same days).
    pub fn by(&self, on: NaiveDate) -> i64 {
        if on < self.start {
            return 0;
        }
        let last = on.min(self.end);
        let off = (last - self.start).num_days();
        let n = self.offsets.partition_point(|&o| i64::from(o) <= off);
        let days = if n == 0 { 0 } else { self.totals[n - 1] };
        days + self.monthly * (month_index(self.start, last) as i64 + 1)
    }

    /// Days held (for bounding a cache).
    pub fn entries(&self) -> usize {
        self.offsets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prize(per_person: Option<i64>) -> Prize {
        Prize {
            code: "Q1".into(),
            name: "クオカード".into(),
            points: 100,
            stock: 3,
            per_person,
        }
    }

    fn standing() -> Standing {
        Standing {
            has_address: true,
            balance: 500,
            had: 0,
            taken: 0,
        }
    }

    fn code(r: std::result::Result<i64, Refusal>) -> &'static str {
        match r {
            Ok(_) => "accepted",
            Err((c, _, _)) => c,
        }
    }

    #[test]
    fn an_application_within_every_limit_costs_its_points() {
        assert_eq!(decide(&prize(Some(2)), 2, &standing()), Ok(200));
    }

    #[test]
    fn refusals_come_in_the_order_a_participant_is_told() {
        let p = prize(Some(1));
        let all_wrong = Standing {
            has_address: false,
            balance: 0,
            had: 1,
            taken: 3,
        };
        assert_eq!(code(decide(&p, 1, &all_wrong)), "participant.no_address");
        let s = Standing {
            has_address: true,
            ..all_wrong
        };
        assert_eq!(code(decide(&p, 1, &s)), "prize.per_person_limit");
        let s = Standing { had: 0, ..s };
        assert_eq!(code(decide(&p, 1, &s)), "points.insufficient");
        let s = Standing { balance: 100, ..s };
        assert_eq!(code(decide(&p, 1, &s)), "prize.out_of_stock");
        let s = Standing { taken: 2, ..s };
        assert_eq!(decide(&p, 1, &s), Ok(100));
    }

    #[test]
    fn no_per_person_limit_means_only_points_and_stock_count() {
        let s = Standing {
            had: 50,
            ..standing()
        };
        assert_eq!(decide(&prize(None), 3, &s), Ok(300));
        assert_eq!(code(decide(&prize(None), 6, &s)), "points.insufficient");
    }

    #[test]
    fn prize_codes_match_as_read() {
        let mut program =
            Program::parse(include_str!("../../examples/program.toml"), "program.toml").unwrap();
        program.prizes = vec![prize(None)];
        let keyed = crate::program::prize_code("ｑ１").unwrap();
        assert!(find_prize(&program, &keyed).is_ok());
        assert_eq!(code(find_prize(&program, "Z9").map(|_| 0)), "prize.unknown");
    }

    /// The earned points by any date, from one pass, equal a fresh tally of the days up
    /// to that date (`points --as-of`), for both tables, with a cap, a bonus reached
    /// mid-month, one never reached and one that needs no day.
    #[test]
    fn earnings_by_date_match_a_tally_as_of_that_date() {
        use crate::program::{AgeBands, Band, Bonus, PointsRules};
        let band = |steps, points| Band { steps, points };
        let bonus = |min_days, min_steps, points| Bonus {
            name: "b".into(),
            min_days,
            min_steps,
            points,
        };
        let rules = PointsRules {
            bands: vec![band(3000, 1), band(8000, 3), band(12000, 9)],
            daily_cap: Some(5),
            age_bands: vec![AgeBands {
                min_age: 65,
                bands: vec![band(2000, 2), band(6000, 4)],
            }],
            bonus: vec![bonus(3, 7000, 20), bonus(40, 1, 1000), bonus(0, 0, 7)],
        };
        let start = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2025, 7, 31).unwrap();
        let full = Scorer::from_rules(&rules, start, end, None);
        // Every third day, steps cycling through the bands.
        let days: Vec<(u16, u32)> = (0u16..122)
            .filter(|o| o % 3 != 1)
            .map(|o| (o, [0, 2500, 4000, 7500, 9000, 13000][usize::from(o % 6)]))
            .collect();
        for age in [None, Some(70)] {
            let table = full.table_for(age);
            let e = Earnings::new(&full, table, end, &days);
            let mut on = start - chrono::Days::new(3);
            while on <= end + chrono::Days::new(40) {
                let as_of = Scorer::from_rules(&rules, start, end, Some(on));
                let mut t = as_of.tally(table);
                for &(o, s) in &days {
                    t.add(start + chrono::Days::new(u64::from(o)), i64::from(s));
                }
                assert_eq!(e.by(on), t.finish().earned(), "{age:?} as of {on}");
                on = on + chrono::Days::new(1);
            }
        }
    }
}

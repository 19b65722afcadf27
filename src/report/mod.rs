//! The evaluation report (評価及び検証): what the municipality receives to see whether
//! the program changed behaviour. Aggregates only; nothing that names a person.
//!
//! Built in two steps. [`build`] reads the database in one ordered pass, folding each
//! participant into counts and sums by the groups the tables show (`tally`: nothing is
//! kept per participant, so memory does not grow with the program), then lays out six sheets of tables whose figures refer to counts of people
//! registered in one [`Disclosure`] for the whole workbook, together with the sums a
//! reader could subtract. After every sheet is laid out the suppression rule runs once
//! ([`Disclosure::finish`]), so a figure shown on two sheets is hidden on both or
//! neither, and [`Report::show`] turns each figure into a number, ＊ (suppressed) or －
//! (no one to compute it from). `output::evaluation` prints that.

mod fold;
mod spill;
mod tally;

use crate::db::report::{self as store, OrderRow};
use crate::program::{AnswerKind, Program, Question};
use crate::sheet::date::wareki;
use crate::stats::{self, CellId, Disclosure, SEX_GROUPS, TARGET_GROUPS};
use anyhow::Result;
use chrono::NaiveDate;
use fold::{MeanSum, PairSums};
use rusqlite::Connection;
use tally::{load, Acc, Channel, Data};

/// What a suppressed cell shows.
pub const HIDDEN_MARK: &str = "＊";
/// What a cell with no one to compute it from shows.
pub const NONE_MARK: &str = "－";

/// The rule as the first sheet states it.
pub const RULE: &[&str] = &[
    "＊ … 5人未満の人数と、5人未満の人から計算した値（平均・割合・合計など）は表示していません（小さな集計の秘匿）。",
    "　　 合計からの引き算で＊の値が求められないよう、必要なときは別の欄も＊にしています（＊の欄が二つ以上で5人以上になるまで）。",
    "－ … 該当する人がいない（0人）ため計算できない値です。",
    "この報告書は集計値だけで作成しており、氏名・住所・電話番号・参加者番号など個人を特定できる情報は含みません。",
];

/// How a number is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fmt {
    /// 1,234
    Int,
    /// 12.3%
    Pct,
    /// +1,234 / −1,234
    Signed,
    /// 3.45 (the mean of answers on a 1〜5 scale)
    Dec2,
    /// +0.30 / −0.30 (a difference on a 1〜5 scale)
    SignedDec2,
}

/// One cell of a table, before suppression is decided.
#[derive(Debug, Clone)]
pub enum Fig {
    Text(String),
    /// A count (of people or applications): its value, or ＊.
    Count(CellId),
    /// A figure computed from the people counted in `deps`: ＊ when any of them is
    /// hidden, － when there is no value.
    Of {
        value: Option<f64>,
        deps: Vec<CellId>,
        fmt: Fmt,
    },
    /// A fact of the program, not about people (a prize's cost in points).
    Fixed(f64, Fmt),
    Empty,
}

/// A cell as printed.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Text(String),
    Number(f64, Fmt),
    Hidden,
    NoData,
    Empty,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub cells: Vec<Fig>,
    /// A total row, printed bold.
    pub strong: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    /// An optional upper header row: each label spans that many columns.
    pub groups: Vec<(String, u16)>,
    pub head: Vec<String>,
    pub rows: Vec<Row>,
    /// The first column holds section labels: one heads the rows below it that leave
    /// the column blank, printed as one merged cell.
    pub sections: bool,
}

impl Table {
    fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            ..Table::default()
        }
    }
    fn row(&mut self, cells: Vec<Fig>) {
        self.rows.push(Row {
            cells,
            strong: false,
        });
    }
    fn total(&mut self, cells: Vec<Fig>) {
        self.rows.push(Row {
            cells,
            strong: true,
        });
    }
}

/// A line chart: one line per series over the categories (months).
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub y_title: String,
    pub categories: Vec<String>,
    pub series: Vec<(String, Vec<Fig>)>,
}

#[derive(Debug, Clone)]
pub enum Block {
    Title(String),
    Heading(String),
    Note(String),
    Table(Table),
    Charts(Vec<Chart>),
    /// Start a new printed page here.
    PageBreak,
}

#[derive(Debug, Clone)]
pub struct Sheet {
    pub name: &'static str,
    pub blocks: Vec<Block>,
    /// Column widths (characters), first column first.
    pub widths: Vec<f64>,
}

pub struct Report {
    pub sheets: Vec<Sheet>,
    pub cells: Disclosure,
    /// The program's name, for page headers.
    pub program_name: String,
    /// Counts for the audit entry and the operator (no personal data).
    pub participants: i64,
    pub active: i64,
    pub hidden_cells: usize,
}

impl Report {
    pub fn show(&self, f: &Fig) -> Shown {
        match f {
            Fig::Text(s) => Shown::Text(s.clone()),
            Fig::Empty => Shown::Empty,
            Fig::Fixed(v, fmt) => Shown::Number(*v, *fmt),
            Fig::Count(c) => {
                if self.cells.is_hidden(*c) {
                    Shown::Hidden
                } else {
                    Shown::Number(self.cells.value(*c) as f64, Fmt::Int)
                }
            }
            Fig::Of { value, deps, fmt } => {
                if deps.iter().any(|c| self.cells.is_hidden(*c)) {
                    Shown::Hidden
                } else {
                    match value {
                        Some(v) if v.is_finite() => Shown::Number(*v, *fmt),
                        _ => Shown::NoData,
                    }
                }
            }
        }
    }
}

/// One group of orders (a prize, the unknown codes, or all), by kind: applied (all),
/// accepted, rejected, shipped (accepted and shipped), waiting (accepted, not shipped).
#[derive(Debug, Default, Clone)]
struct Tally {
    /// Orders of each kind.
    orders: [i64; 5],
    /// Distinct participants behind the orders of each kind.
    people: [i64; 5],
    /// Accepted quantity, and of it the shipped.
    quantity: i64,
    shipped_quantity: i64,
}

impl Tally {
    fn kinds(o: &OrderRow<'_>) -> [bool; 5] {
        [
            true,
            o.accepted,
            !o.accepted,
            o.accepted && o.shipped,
            o.accepted && !o.shipped,
        ]
    }
}

/// The orders counted for the prizes sheet in one pass over them, a participant's
/// together: a participant is counted once per group and kind, so no set of numbers is
/// held (memory does not grow with the orders).
#[derive(Debug, Default)]
struct OrderTallies {
    /// One per program prize, then the orders whose code is no prize of the program.
    rows: Vec<Tally>,
    all: Tally,
}

impl OrderTallies {
    fn unknown(&self) -> &Tally {
        self.rows.last().unwrap_or(&self.all)
    }

    fn count(conn: &Connection, program: &Program) -> Result<OrderTallies> {
        let groups = program.prizes.len() + 1;
        let mut t = OrderTallies {
            rows: vec![Tally::default(); groups],
            all: Tally::default(),
        };
        // Kinds the current participant has been counted in, by group (the last: all).
        let mut seen = vec![[false; 5]; groups + 1];
        let mut current: Option<String> = None;
        store::each_order_by_participant(conn, |o| {
            if current.as_deref() != Some(o.participant) {
                seen.iter_mut().for_each(|s| *s = [false; 5]);
                let c = current.get_or_insert_with(String::new);
                c.clear();
                c.push_str(o.participant);
            }
            let kinds = Tally::kinds(&o);
            let known = program.prize(o.prize).is_some();
            let add = |tally: &mut Tally, seen: &mut [bool; 5]| {
                for k in 0..5 {
                    if kinds[k] {
                        tally.orders[k] += 1;
                        if !seen[k] {
                            seen[k] = true;
                            tally.people[k] += 1;
                        }
                    }
                }
                if o.accepted {
                    tally.quantity += o.quantity;
                    if o.shipped {
                        tally.shipped_quantity += o.quantity;
                    }
                }
            };
            for (i, p) in program.prizes.iter().enumerate() {
                if p.code == o.prize {
                    add(&mut t.rows[i], &mut seen[i]);
                }
            }
            if !known {
                add(&mut t.rows[groups - 1], &mut seen[groups - 1]);
            }
            add(&mut t.all, &mut seen[groups]);
        })?;
        Ok(t)
    }
}

fn count(d: &mut Disclosure, n: usize) -> CellId {
    d.people(n as i64)
}

fn of(value: Option<f64>, deps: &[CellId], fmt: Fmt) -> Fig {
    Fig::Of {
        value,
        deps: deps.to_vec(),
        fmt,
    }
}

fn share(part: CellId, whole: CellId, d: &Disclosure) -> Fig {
    let (p, w) = (d.value(part), d.value(whole));
    of(
        (w > 0).then(|| p as f64 / w as f64),
        &[part, whole],
        Fmt::Pct,
    )
}

fn text(s: impl Into<String>) -> Fig {
    Fig::Text(s.into())
}

/// Counts shared between sheets (the same figure must be hidden everywhere or nowhere).
struct Shared {
    registered: CellId,
    active_by_month: Vec<CellId>,
    active_all: CellId,
    prize_totals: Option<PrizeTotals>,
}

#[derive(Clone, Copy)]
struct PrizeTotals {
    applied: CellId,
    accepted: CellId,
    rejected: CellId,
    shipped: CellId,
}

/// Build the whole report from the database.
pub fn build(conn: &Connection, program: &Program, today: NaiveDate) -> Result<Report> {
    let data = load(conn, program)?;
    let mut d = Disclosure::new();
    let registered = count(&mut d, data.t.registered);
    let active_by_month: Vec<CellId> = data.t.months[..data.months.len()]
        .iter()
        .map(|m| count(&mut d, m.active))
        .collect();
    let active_n = data.t.active;
    let active_all = count(&mut d, active_n);
    let mut shared = Shared {
        registered,
        active_by_month,
        active_all,
        prize_totals: None,
    };
    // Later sheets register cells the first sheet shows, so it is laid out last.
    let prizes = prizes_sheet(&data, program, &mut d, &mut shared);
    let monthly = monthly_sheet(&data, &mut d, &shared);
    let targets = targets_sheet(&data, &mut d);
    let change = change_sheet(&data, program, &mut d);
    let continuation = continuation_sheet(&data, &mut d, &shared);
    let survey = survey_sheet(&data, program, &mut d);
    let overview = overview_sheet(&data, program, today, &mut d, &shared);
    d.finish();
    let hidden_cells = {
        let mut n = 0;
        for s in [
            &overview,
            &monthly,
            &targets,
            &change,
            &continuation,
            &survey,
            &prizes,
        ] {
            for b in &s.blocks {
                if let Block::Table(t) = b {
                    for r in &t.rows {
                        for c in &r.cells {
                            let hidden = match c {
                                Fig::Count(id) => d.is_hidden(*id),
                                Fig::Of { deps, .. } => deps.iter().any(|id| d.is_hidden(*id)),
                                _ => false,
                            };
                            n += usize::from(hidden);
                        }
                    }
                }
            }
        }
        n
    };
    Ok(Report {
        sheets: vec![
            overview,
            monthly,
            targets,
            change,
            continuation,
            survey,
            prizes,
        ],
        cells: d,
        program_name: program.program.name.clone(),
        participants: data.t.registered as i64,
        active: active_n as i64,
        hidden_cells,
    })
}

fn date_ja(d: NaiveDate) -> String {
    format!("{}（{}）", wareki(d), d.format("%Y-%m-%d"))
}

fn overview_sheet(
    data: &Data,
    program: &Program,
    today: NaiveDate,
    d: &mut Disclosure,
    shared: &Shared,
) -> Sheet {
    let p = &program.program;
    let mut blocks = vec![
        Block::Title(format!("{} 評価報告書（評価及び検証）", p.name)),
        Block::Note(format!(
            "委託元: {}{}　受託者: {}　契約番号: {}",
            p.municipality,
            if p.department.is_empty() {
                String::new()
            } else {
                format!(" {}", p.department)
            },
            p.contractor,
            p.contract_no
        )),
        Block::Note(format!(
            "事業期間: {} 〜 {}　集計した記録: {}　作成日: {}",
            date_ja(p.start),
            date_ja(p.end),
            match (data.first_day, data.last_day) {
                (Some(f), Some(l)) => format!("{} 〜 {}", date_ja(f), date_ja(l)),
                _ => "歩数の記録はまだありません".to_string(),
            },
            date_ja(today)
        )),
        Block::Heading("秘匿の決まり（この報告書の見方）".into()),
    ];
    for line in RULE {
        blocks.push(Block::Note(line.to_string()));
    }

    // Registered participants by channel, sex and age band.
    let total = shared.registered;
    let mut t = Table::new(&["区分", "", "人数", "登録者に占める割合"]);
    t.sections = true;
    let channels = [(Channel::Card, "台紙"), (Channel::App, "アプリ")];
    let ch_cells: Vec<CellId> = channels
        .iter()
        .map(|(c, _)| count(d, data.t.channel[*c as usize]))
        .collect();
    d.sum(total, &ch_cells);
    for (i, ((_, label), cell)) in channels.iter().zip(&ch_cells).enumerate() {
        t.row(vec![
            text(if i == 0 { "利用区分" } else { "" }),
            text(*label),
            Fig::Count(*cell),
            share(*cell, total, d),
        ]);
    }
    let sex_cells: Vec<CellId> = SEX_GROUPS
        .iter()
        .map(|s| count(d, data.t.sex[*s as usize]))
        .collect();
    d.sum(total, &sex_cells);
    for (i, (s, cell)) in SEX_GROUPS.iter().zip(&sex_cells).enumerate() {
        t.row(vec![
            text(if i == 0 { "性別" } else { "" }),
            text(s.label()),
            Fig::Count(*cell),
            share(*cell, total, d),
        ]);
    }
    let band_cells: Vec<CellId> = data
        .bands
        .iter()
        .map(|b| count(d, data.t.band[*b as usize]))
        .collect();
    d.sum(total, &band_cells);
    for (i, (b, cell)) in data.bands.iter().zip(&band_cells).enumerate() {
        t.row(vec![
            text(if i == 0 { "年齢区分" } else { "" }),
            text(b.label()),
            Fig::Count(*cell),
            share(*cell, total, d),
        ]);
    }
    t.total(vec![
        text("登録者数"),
        text(""),
        Fig::Count(total),
        share(total, total, d),
    ]);
    if let Some(n) = program.report.eligible_population {
        t.row(vec![
            text("参加率"),
            text(format!(
                "登録者数 ÷ 対象人口 {}人（プログラムファイルの report.eligible_population）",
                crate::output::thousands(n)
            )),
            Fig::Empty,
            participation(total, n, d),
        ]);
    }
    blocks.push(Block::Heading(
        "1. 登録者数（利用区分・性別・年齢区分）".into(),
    ));
    blocks.push(Block::Note(format!(
        "年齢は事業開始日（{}）時点の満年齢（名簿に生年月日がなければ名簿の年齢）。",
        wareki(p.start)
    )));
    blocks.push(Block::Table(t));

    let mut t = Table::new(&["月", "活動した参加者", "登録者に占める割合"]);
    for (m, cell) in data.months.iter().zip(&shared.active_by_month) {
        t.row(vec![
            text(m.label()),
            Fig::Count(*cell),
            share(*cell, total, d),
        ]);
    }
    t.total(vec![
        text("期間全体"),
        Fig::Count(shared.active_all),
        share(shared.active_all, total, d),
    ]);
    blocks.push(Block::Heading(
        "2. 活動した参加者（その月に1日以上の歩数記録がある人）".into(),
    ));
    blocks.push(Block::Table(t));

    let all = data.t.days;
    let act = shared.active_all;
    let earners = count(d, data.earners as usize);
    let users = count(d, data.users as usize);
    let mut t = Table::new(&["項目", "", "値"]);
    t.sections = true;
    let row = |t: &mut Table, a: &str, b: &str, f: Fig| t.row(vec![text(a), text(b), f]);
    row(
        &mut t,
        "歩数",
        "記録日数（延べ）",
        of(Some(all.days as f64), &[act], Fmt::Int),
    );
    row(
        &mut t,
        "",
        "歩数の合計",
        of(Some(all.steps as f64), &[act], Fmt::Int),
    );
    row(
        &mut t,
        "",
        "記録1日あたりの平均歩数（合計 ÷ 日数）",
        of((all.days > 0).then(|| all.mean()), &[act], Fmt::Int),
    );
    row(&mut t, "ポイント", "獲得した人", Fig::Count(earners));
    row(
        &mut t,
        "",
        "獲得ポイントの合計（ボーナスを含む）",
        of(Some(data.earned as f64), &[earners], Fmt::Int),
    );
    row(&mut t, "", "景品にポイントを使った人", Fig::Count(users));
    row(
        &mut t,
        "",
        "使用ポイントの合計",
        of(Some(data.used as f64), &[users], Fmt::Int),
    );
    row(
        &mut t,
        "",
        "残高の合計",
        of(
            Some((data.earned - data.used) as f64),
            &[earners, users],
            Fmt::Int,
        ),
    );
    if let Some(pt) = shared.prize_totals {
        row(&mut t, "景品", "申込み（件）", Fig::Count(pt.applied));
        row(&mut t, "", "うち受付（件）", Fig::Count(pt.accepted));
        row(&mut t, "", "うち却下（件）", Fig::Count(pt.rejected));
        row(&mut t, "", "発送済み（件）", Fig::Count(pt.shipped));
    }
    blocks.push(Block::Heading("3. 歩数・ポイント・景品".into()));
    blocks.push(Block::Table(t));
    blocks.push(Block::Note(
        "各シート: 月別歩数（年齢区分別・性別の1日あたり平均歩数とグラフ）、目標達成（健康日本21（第三次）の目標値・令和元年の全国値との比較、\
         1人あたり平均歩数と達成者の割合、達成日の割合）、行動変容（最初の月と最後の月の比較、開始時の歩数による層別）、\
         継続（月ごとの継続と離脱、グラフ）、アンケート（事前・事後）、景品（申込みと発送）。"
            .into(),
    ));
    Sheet {
        name: "概要",
        blocks,
        widths: vec![12.0, 40.0, 14.0, 18.0],
    }
}

/// A group of participants the tables break down by.
#[derive(Debug, Clone, Copy)]
enum Group {
    /// `AgeBand as usize`
    Band(usize),
    /// `SexGroup as usize`
    Sex(usize),
}

impl Group {
    /// The group's participants' means in one month.
    fn month(self, m: &tally::MonthTally) -> &MeanSum {
        match self {
            Group::Band(i) => &m.band[i],
            Group::Sex(i) => &m.sex[i],
        }
    }
    /// The group's first and last months compared.
    fn change(self, t: &tally::Tallies) -> &PairSums {
        match self {
            Group::Band(i) => &t.change_band[i],
            Group::Sex(i) => &t.change_sex[i],
        }
    }
}

/// Named groups of participants: a label and which.
type Groups = Vec<(String, Group)>;

fn band_groups(data: &Data) -> Groups {
    data.bands
        .iter()
        .map(|&b| (b.label().to_string(), Group::Band(b as usize)))
        .collect()
}

fn sex_groups() -> Groups {
    SEX_GROUPS
        .iter()
        .map(|&s| (s.label().to_string(), Group::Sex(s as usize)))
        .collect()
}

fn monthly_sheet(data: &Data, d: &mut Disclosure, shared: &Shared) -> Sheet {
    let mut blocks = vec![
        Block::Title("月別歩数: 1人1日あたり平均歩数".into()),
        Block::Note(
            "1人1日あたり平均歩数 = その月に記録のある参加者ごとに記録した日の平均歩数を出し、それを参加者で平均した値（0歩と記入された日も含む）。\
             人数はその月に記録のある参加者の数。"
                .into(),
        ),
    ];
    let months: Vec<String> = data.months.iter().map(|m| m.label()).collect();
    let mut charts = Vec::new();

    // By age band, then by sex: each a table of means, a table of counts and a chart.
    let dims: [(&str, Groups); 2] = [("年齢区分別", band_groups(data)), ("性別", sex_groups())];
    for (k, (dim, groups)) in dims.iter().enumerate() {
        if k > 0 {
            blocks.push(Block::PageBreak);
        }
        let mut head = vec!["月", "全体"];
        head.extend(groups.iter().map(|(l, _)| l.as_str()));
        let mut means = Table::new(&head);
        let mut counts = Table::new(&head);
        let mut series: Vec<(String, Vec<Fig>)> = std::iter::once("全体".to_string())
            .chain(groups.iter().map(|(l, _)| l.clone()))
            .map(|l| (l, Vec::new()))
            .collect();
        for (mi, m) in data.months.iter().enumerate() {
            let total = shared.active_by_month[mi];
            let month = &data.t.months[mi];
            let mut cells = Vec::new();
            let mut row_means = vec![text(m.label()), of(month.all.mean(), &[total], Fmt::Int)];
            for (_, g) in groups {
                let sums = g.month(month);
                let c = count(d, sums.n);
                cells.push(c);
                row_means.push(of(sums.mean(), &[c], Fmt::Int));
            }
            d.sum(total, &cells);
            for (si, f) in row_means.iter().skip(1).enumerate() {
                series[si].1.push(f.clone());
            }
            means.row(row_means);
            let mut row_counts = vec![text(m.label()), Fig::Count(total)];
            row_counts.extend(cells.iter().map(|c| Fig::Count(*c)));
            counts.row(row_counts);
        }
        blocks.push(Block::Heading(format!(
            "{}. {dim}の1人1日あたり平均歩数（歩）",
            2 * k + 1
        )));
        blocks.push(Block::Table(means));
        blocks.push(Block::Heading(format!(
            "{}. {dim}の人数（その月に記録のある参加者）",
            2 * k + 2
        )));
        blocks.push(Block::Table(counts));
        charts.push(Chart {
            title: format!("{dim}の1人1日あたり平均歩数"),
            y_title: "歩".into(),
            categories: months.clone(),
            series,
        });
    }
    blocks.push(Block::Charts(charts));
    let width = 2 + data.bands.len();
    let mut widths = vec![12.0];
    widths.extend(std::iter::repeat_n(11.0, width - 1));
    Sheet {
        name: "月別歩数",
        blocks,
        widths,
    }
}

/// The registered participants as a share of the eligible population (a fact of the
/// program, not a count of people, so it hides only with the registered count).
fn participation(registered: CellId, eligible: i64, d: &Disclosure) -> Fig {
    of(
        (eligible > 0).then(|| d.value(registered) as f64 / eligible as f64),
        &[registered],
        Fmt::Pct,
    )
}

/// One row of the per-person table: who, n, their mean of means, the target and the
/// baseline with the differences, and how many reached the target on average.
fn person_row(
    d: &mut Disclosure,
    label: &str,
    people: &MeanSum,
    target: Option<i64>,
    baseline: Option<i64>,
) -> (Vec<Fig>, CellId, CellId, CellId) {
    let met_n = people.met;
    let n = count(d, people.n);
    let met = count(d, met_n);
    let not_met = count(d, people.n - met_n);
    d.sum(n, &[met, not_met]);
    let mean = people.mean();
    let fixed = |v: Option<i64>| v.map_or(text("－"), |v| Fig::Fixed(v as f64, Fmt::Int));
    let cells = vec![
        text(label),
        Fig::Count(n),
        of(mean, &[n], Fmt::Int),
        fixed(target),
        of(
            mean.zip(target).map(|(m, t)| m - t as f64),
            &[n],
            Fmt::Signed,
        ),
        fixed(baseline),
        of(
            mean.zip(baseline).map(|(m, b)| m - b as f64),
            &[n],
            Fmt::Signed,
        ),
        Fig::Count(met),
        of(
            (people.n > 0).then(|| met_n as f64 / people.n as f64),
            &[met, n],
            Fmt::Pct,
        ),
    ];
    (cells, n, met, not_met)
}

fn targets_sheet(data: &Data, d: &mut Disclosure) -> Sheet {
    let mut blocks = vec![
        Block::Title(
            "目標達成: 健康日本21（第三次）の目標値と令和元年の全国値との比較".into(),
        ),
        Block::Note(stats::TARGET_SOURCE.into()),
        Block::Note(stats::BASELINE_SOURCE.into()),
        Block::Note(
            "1人1日あたり平均歩数 = 参加者ごとに事業期間中に記録した日の平均歩数を出し、それを参加者で平均した値（健康日本21の指標と同じく1人あたりの平均）。\
             目標達成者 = 自分の平均歩数が自分の年齢の目標値以上の人。対象は記録のある20歳以上の参加者（年齢不明の人は含みません）。"
                .into(),
        ),
    ];
    let mut t = Table::new(&[
        "区分",
        "人数",
        "1人1日あたり\n平均歩数",
        "目標値",
        "目標値との差",
        "令和元年\n全国値",
        "全国値との差",
        "人数",
        "達成率",
    ]);
    t.groups = vec![
        (String::new(), 1),
        (String::new(), 1),
        (String::new(), 1),
        ("健康日本21（第三次）".into(), 2),
        ("令和元年 国民健康・栄養調査".into(), 2),
        ("目標達成者".into(), 2),
    ];
    let (mut group_n, mut group_met, mut group_not) = (Vec::new(), Vec::new(), Vec::new());
    for g in TARGET_GROUPS {
        let (mut ns, mut mets, mut nots) = (Vec::new(), Vec::new(), Vec::new());
        for s in SEX_GROUPS {
            let people = &data.t.person[g as usize][s as usize];
            let (cells, n, met, not) = person_row(
                d,
                &format!("{} {}", g.label(), s.label()),
                people,
                Some(g.steps()),
                g.baseline(s),
            );
            t.row(cells);
            ns.push(n);
            mets.push(met);
            nots.push(not);
        }
        let (cells, n, met, not) = person_row(
            d,
            &format!("{} 計", g.label()),
            &data.t.person[g as usize][3],
            Some(g.steps()),
            None,
        );
        t.total(cells);
        d.sum(n, &ns);
        d.sum(met, &mets);
        d.sum(not, &nots);
        group_n.push(n);
        group_met.push(met);
        group_not.push(not);
    }
    let (cells, n, met, not) = person_row(
        d,
        "20歳以上 全体",
        &data.t.person_all,
        Some(stats::OVERALL_TARGET),
        Some(stats::BASELINE_TOTAL),
    );
    t.total(cells);
    d.sum(n, &group_n);
    d.sum(met, &group_met);
    d.sum(not, &group_not);
    blocks.push(Block::Heading(
        "1. 1人1日あたり平均歩数と目標達成者（事業期間全体）".into(),
    ));
    blocks.push(Block::Table(t));
    blocks.push(Block::Note(
        "全体の目標値 7,100歩は20歳以上全体の平均値の目標。全体の目標達成者は、各人をその年齢の目標値（8,000歩・6,000歩）と比べた人数の合計です。\
         全国値は男女別のみ公表されているため、その他・無回答と年齢区分の計には全国値を示していません。"
            .into(),
    ));

    // The secondary view: the share of recorded days at or above each one's target.
    let mut t = Table::new(&["月"]);
    t.head.push("記録日数".into());
    t.head.push("達成日の割合".into());
    t.groups.push((String::new(), 1));
    t.groups.push(("20歳以上全体".into(), 2));
    for g in TARGET_GROUPS {
        t.groups.push((
            format!("{}（{}歩）", g.label(), crate::output::thousands(g.steps())),
            2,
        ));
        t.head.push("記録日数".into());
        t.head.push("達成日の割合".into());
    }
    let periods: Vec<(String, Option<usize>)> = data
        .months
        .iter()
        .enumerate()
        .map(|(mi, m)| (m.label(), Some(mi)))
        .chain(std::iter::once(("期間全体".to_string(), None)))
        .collect();
    for (label, m) in &periods {
        let mut group_cells = Vec::new();
        let mut figs = Vec::new();
        let mut all = Acc::default();
        for g in TARGET_GROUPS {
            let (n, acc) = match m {
                Some(mi) => data.t.months[*mi].target[g as usize],
                None => data.t.target_days[g as usize],
            };
            all.add(&acc);
            // The number of people is not printed here (a reader could subtract it
            // from the 月別歩数 counts to find those without a target), but it decides
            // what is hidden, and the groups add up to the whole.
            let c = count(d, n);
            group_cells.push(c);
            figs.push(of(Some(acc.days as f64), &[c], Fmt::Int));
            figs.push(of(
                (acc.days > 0).then(|| acc.met as f64 / acc.days as f64),
                &[c],
                Fmt::Pct,
            ));
        }
        let n_all: i64 = group_cells.iter().map(|c| d.value(*c)).sum();
        let all_cell = d.people(n_all);
        d.sum(all_cell, &group_cells);
        let mut cells = vec![
            text(label.clone()),
            of(Some(all.days as f64), &[all_cell], Fmt::Int),
            of(
                (all.days > 0).then(|| all.met as f64 / all.days as f64),
                &[all_cell],
                Fmt::Pct,
            ),
        ];
        cells.extend(figs);
        if m.is_some() {
            t.row(cells);
        } else {
            t.total(cells);
        }
    }
    blocks.push(Block::Heading(
        "2. 参考: 目標値以上を記録した日の割合（月ごと）".into(),
    ));
    blocks.push(Block::Note(
        "達成日の割合 = 目標値以上を記録した日 ÷ 記録した日（その区分の参加者全員の延べ日数）。"
            .into(),
    ));
    blocks.push(Block::Table(t));
    Sheet {
        name: "目標達成",
        blocks,
        widths: vec![24.0, 8.0, 12.0, 9.0, 11.0, 10.0, 11.0, 8.0, 9.0],
    }
}

/// The baseline classes: participants by their first recorded month's mean, below the
/// threshold (the low-activity class, the usual 無関心層 proxy) or at and above it,
/// each class's first and last month compared.
fn baseline_classes(data: &Data, threshold: i64, d: &mut Disclosure) -> Vec<Block> {
    let mut t = paired_table(
        "開始時の層",
        "1日あたり平均歩数（歩）",
        "最後の月 − 最初の月",
        "増えた人",
        ["最初の月", "最後の月"],
    );
    let th = crate::output::thousands(threshold);
    let mut ns = Vec::new();
    let mut ups = Vec::new();
    let labels = [
        format!("最初の月の平均 {th}歩未満"),
        format!("最初の月の平均 {th}歩以上"),
    ];
    for (label, pairs) in labels.iter().zip(&data.t.class) {
        let (cells, n, up) = paired_row(d, label, pairs, Fmt::Int, Fmt::Signed);
        t.row(cells);
        ns.push(n);
        ups.push(up);
    }
    let (cells, n, up) = paired_row(d, "計", &data.t.classes, Fmt::Int, Fmt::Signed);
    t.total(cells);
    d.sum(n, &ns);
    d.sum(up, &ups);
    vec![
        Block::Heading(format!(
            "開始時の歩数による層別（最初の月の1日あたり平均歩数 {th}歩未満・以上）"
        )),
        Block::Note(format!(
            "最初の月の平均が {th}歩未満の層は、健幸ポイントの複数自治体による実証で「無関心層」の目安とされた層です（運動習慣は問うていません）。\
             この基準（既定 8,000歩）は事業の設定で変えられます。対象は2か月以上記録のある参加者。"
        )),
        Block::Table(t),
    ]
}

/// Month by month: who has started, who is active, who paused and came back later, who
/// left (no record that month or after), with a chart.
fn continuation_sheet(data: &Data, d: &mut Disclosure, shared: &Shared) -> Sheet {
    let mut blocks = vec![
        Block::Title("継続: 月ごとの継続と離脱".into()),
        Block::Note(
            "記録を始めた人（累計）= その月までに1日以上の歩数記録がある参加者。活動 = その月に記録がある人。休止 = その月に記録はないが後の月に記録がある人。\
             離脱（累計）= その月とそれ以降に記録がない人（最後の月は、集計時点で記録がない人を含みます）。継続率 = 活動 ÷ 記録を始めた人。"
                .into(),
        ),
    ];
    let mut t = Table::new(&[
        "月",
        "この月に始めた人",
        "記録を始めた人\n（累計）",
        "活動",
        "休止",
        "離脱（累計）",
        "継続率",
        "離脱率",
    ]);
    let mut active_series = Vec::new();
    let mut dropped_series = Vec::new();
    let mut prev_started: Option<CellId> = None;
    for (mi, m) in data.months.iter().enumerate() {
        let tally::MonthTally {
            new,
            started,
            paused,
            dropped,
            ..
        } = data.t.months[mi];
        let active = shared.active_by_month[mi];
        let not_active = started - d.value(active) as usize;
        let new = count(d, new);
        let started = count(d, started);
        let paused = count(d, paused);
        let dropped = count(d, dropped);
        // Those started but not active this month are 記録を始めた人 − 活動, figures the
        // report shows as the overview always has (active of registered); what is
        // protected is how they split into paused and dropped.
        let not_active = count(d, not_active);
        d.sum(not_active, &[paused, dropped]);
        match prev_started {
            Some(prev) => d.sum(started, &[prev, new]),
            None => d.sum(started, &[new]),
        }
        prev_started = Some(started);
        t.row(vec![
            text(m.label()),
            Fig::Count(new),
            Fig::Count(started),
            Fig::Count(active),
            Fig::Count(paused),
            Fig::Count(dropped),
            share(active, started, d),
            share(dropped, started, d),
        ]);
        active_series.push(Fig::Count(active));
        dropped_series.push(Fig::Count(dropped));
    }
    blocks.push(Block::Heading("1. 月ごとの継続と離脱（人）".into()));
    blocks.push(Block::Table(t));
    blocks.push(Block::Charts(vec![Chart {
        title: "活動した参加者と離脱（累計）".into(),
        y_title: "人".into(),
        categories: data.months.iter().map(|m| m.label()).collect(),
        series: vec![
            ("活動".into(), active_series),
            ("離脱（累計）".into(), dropped_series),
        ],
    }]));
    Sheet {
        name: "継続",
        blocks,
        widths: vec![12.0, 12.0, 14.0, 10.0, 10.0, 12.0, 10.0, 10.0],
    }
}

/// The header of a paired comparison: who, n, the two means, the difference with its
/// interval, and how many went up.
fn paired_table(what: &str, means: &str, diff: &str, up: &str, sides: [&str; 2]) -> Table {
    let mut t = Table::new(&[
        what,
        "人数",
        sides[0],
        sides[1],
        "平均の差",
        "95%信頼区間\n下限",
        "95%信頼区間\n上限",
        "人数",
        "割合",
    ]);
    t.groups = vec![
        (String::new(), 1),
        (String::new(), 1),
        (means.to_string(), 2),
        (diff.to_string(), 3),
        (up.to_string(), 2),
    ];
    t
}

/// One row of a paired comparison: n, the two means, the difference with its 95% CI,
/// how many went up. `n = up + not up` is a sum a reader can do, so it is registered.
fn paired_row(
    d: &mut Disclosure,
    label: &str,
    pairs: &PairSums,
    fmt: Fmt,
    diff_fmt: Fmt,
) -> (Vec<Fig>, CellId, CellId) {
    let p = pairs.paired();
    let n = count(d, pairs.n);
    let up_n = p.as_ref().map_or(0, |p| p.increased);
    let up = count(d, up_n);
    let rest = count(d, pairs.n - up_n);
    d.sum(n, &[up, rest]);
    let v = |f: &dyn Fn(&stats::Paired) -> f64| p.as_ref().map(f);
    let ci = p.as_ref().and_then(|p| p.ci95);
    let cells = vec![
        text(label),
        Fig::Count(n),
        of(v(&|p| p.mean_before), &[n], fmt),
        of(v(&|p| p.mean_after), &[n], fmt),
        of(v(&|p| p.mean_diff), &[n], diff_fmt),
        of(ci.map(|c| c.0), &[n], diff_fmt),
        of(ci.map(|c| c.1), &[n], diff_fmt),
        Fig::Count(up),
        of(
            (pairs.n > 0).then(|| up_n as f64 / pairs.n as f64),
            &[up, n],
            Fmt::Pct,
        ),
    ];
    (cells, n, up)
}

fn change_sheet(data: &Data, program: &Program, d: &mut Disclosure) -> Sheet {
    let mut blocks = vec![
        Block::Title("行動変容: 最初の月と最後の月の比較（対応のある比較）".into()),
        Block::Note(
            "対象: 2か月以上歩数の記録がある参加者。参加者ごとに、記録のある最初の月と最後の月の1日あたり平均歩数を対にして比べました。"
                .into(),
        ),
        Block::Note(
            "平均の差 = 最後の月 − 最初の月。95%信頼区間は差の平均について t 分布（自由度 n−1）で求めたもので、区間が 0 を含まなければ、\
             増減は偶然の範囲を超えると読めます。「増えた人」は最後の月の平均歩数が最初の月より多い人。"
                .into(),
        ),
    ];
    let mut t = paired_table(
        "区分",
        "1日あたり平均歩数（歩）",
        "最後の月 − 最初の月",
        "増えた人",
        ["最初の月", "最後の月"],
    );
    let (cells, n_all, up_all) = paired_row(d, "全体", &data.t.change, Fmt::Int, Fmt::Signed);
    t.total(cells);
    for (dim, groups) in [("性別", sex_groups()), ("年齢区分", band_groups(data))] {
        let (mut ns, mut ups) = (Vec::new(), Vec::new());
        for (label, g) in &groups {
            let (cells, n, up) = paired_row(
                d,
                &format!("{dim}: {label}"),
                g.change(&data.t),
                Fmt::Int,
                Fmt::Signed,
            );
            ns.push(n);
            ups.push(up);
            t.row(cells);
        }
        d.sum(n_all, &ns);
        d.sum(up_all, &ups);
    }
    blocks.push(Block::Heading(
        "1日あたり平均歩数: 最初の月と最後の月（歩）".into(),
    ));
    blocks.push(Block::Table(t));
    blocks.extend(baseline_classes(
        data,
        program
            .report
            .baseline_threshold
            .unwrap_or(stats::DEFAULT_BASELINE_THRESHOLD),
        d,
    ));
    let mut widths = vec![24.0, 8.0];
    widths.extend([11.0, 11.0, 10.0, 12.0, 12.0, 8.0, 9.0]);
    Sheet {
        name: "行動変容",
        blocks,
        widths,
    }
}

/// The answers a question can have, in the order the report lists them.
fn categories(q: &Question) -> Vec<String> {
    match q.kind {
        AnswerKind::Scale5 => (1..=5).map(|i| i.to_string()).collect(),
        AnswerKind::YesNo => vec!["はい".into(), "いいえ".into()],
        AnswerKind::Choice => q.choices.clone(),
    }
}

fn survey_sheet(data: &Data, program: &Program, d: &mut Disclosure) -> Sheet {
    let mut blocks = vec![Block::Title("アンケート: 事前・事後の回答".into())];
    let questions = &program.survey.questions;
    if questions.is_empty() {
        blocks.push(Block::Note(
            "この事業のプログラムファイルにはアンケートの設問がありません。".into(),
        ));
    } else {
        blocks.push(Block::Note(
            "回答の分布は、その時期に回答した人に占める割合。5段階の設問は、事前と事後の両方に回答した人について、\
             回答の変化（事後 − 事前）を対にして比べ、95%信頼区間を t 分布で求めました。"
                .into(),
        ));
    }
    for (qi, (q, answers)) in questions.iter().zip(&data.survey).enumerate() {
        blocks.push(Block::Heading(format!(
            "{}. {}　{}（{}）",
            qi + 1,
            q.code,
            q.text,
            q.kind.as_ja()
        )));
        let mut t = Table::new(&["回答", "人数", "割合", "人数", "割合"]);
        t.groups = vec![(String::new(), 1), ("事前".into(), 2), ("事後".into(), 2)];
        let cats = categories(q);
        let mut cols: Vec<(CellId, Vec<CellId>)> = Vec::new();
        for (answered, by_category) in answers.answered.iter().zip(&answers.by_category) {
            let total = count(d, *answered);
            let parts: Vec<CellId> = by_category.iter().map(|n| count(d, *n)).collect();
            d.sum(total, &parts);
            cols.push((total, parts));
        }
        for (ci, c) in cats.iter().enumerate() {
            let mut row = vec![text(c.clone())];
            for (total, parts) in &cols {
                row.push(Fig::Count(parts[ci]));
                row.push(share(parts[ci], *total, d));
            }
            t.row(row);
        }
        let mut row = vec![text("回答した人")];
        for (total, _) in &cols {
            row.push(Fig::Count(*total));
            row.push(share(*total, *total, d));
        }
        t.total(row);
        blocks.push(Block::Table(t));
        if q.kind == AnswerKind::Scale5 {
            let mut t = paired_table(
                "比較",
                "回答の平均（1〜5）",
                "事後 − 事前",
                "上がった人",
                ["事前", "事後"],
            );
            let (cells, _, _) = paired_row(
                d,
                "事前・事後とも回答",
                &answers.pairs,
                Fmt::Dec2,
                Fmt::SignedDec2,
            );
            t.row(cells);
            blocks.push(Block::Table(t));
        }
    }
    Sheet {
        name: "アンケート",
        blocks,
        widths: vec![24.0, 8.0, 11.0, 11.0, 10.0, 12.0, 12.0, 8.0, 9.0],
    }
}

fn prizes_sheet(data: &Data, program: &Program, d: &mut Disclosure, shared: &mut Shared) -> Sheet {
    let mut blocks = vec![
        Block::Title("景品: 申込みと発送".into()),
        Block::Note(
            "申込み = 受付 + 却下（ポイント不足・在庫切れ・上限超えなど）。件数が5人未満の人によるものは＊。数量は受付・発送した景品の個数。"
                .into(),
        ),
    ];
    let mut t = Table::new(&[
        "コード",
        "景品",
        "必要ポイント",
        "申込み（件）",
        "受付（件）",
        "受付数量",
        "却下（件）",
        "発送済み（件）",
        "発送済み数量",
    ]);
    let mut rows: Vec<(String, String, Option<i64>)> = program
        .prizes
        .iter()
        .map(|p| (p.code.clone(), p.name.clone(), Some(p.points)))
        .collect();
    if data.orders.unknown().orders[0] > 0 {
        rows.push((String::new(), "景品コード不明（却下）".into(), None));
    }
    // Per column: the cells of each prize, for the column totals.
    let mut columns: [Vec<CellId>; 5] = Default::default();
    let block = |d: &mut Disclosure, t: &Tally| -> [CellId; 5] {
        let c: [CellId; 5] = std::array::from_fn(|k| d.count_by(t.orders[k], t.people[k]));
        // 申込み = 受付 + 却下; 受付 = 発送済み + 未発送 (未発送 is not printed but
        // follows from the two).
        d.sum(c[0], &[c[1], c[2]]);
        d.sum(c[1], &[c[3], c[4]]);
        c
    };
    for (i, (code, name, points)) in rows.iter().enumerate() {
        let tally = match points {
            Some(_) => &data.orders.rows[i],
            None => data.orders.unknown(),
        };
        let c = block(d, tally);
        for (col, id) in columns.iter_mut().zip(c) {
            col.push(id);
        }
        t.row(vec![
            text(code.clone()),
            text(name.clone()),
            points.map_or(Fig::Empty, |p| Fig::Fixed(p as f64, Fmt::Int)),
            Fig::Count(c[0]),
            Fig::Count(c[1]),
            of(Some(tally.quantity as f64), &[c[1]], Fmt::Int),
            Fig::Count(c[2]),
            Fig::Count(c[3]),
            of(Some(tally.shipped_quantity as f64), &[c[3]], Fmt::Int),
        ]);
    }
    let all = &data.orders.all;
    let c = block(d, all);
    for (col, total) in columns.iter().zip(c) {
        d.sum(total, col);
    }
    t.total(vec![
        text("合計"),
        text(""),
        Fig::Empty,
        Fig::Count(c[0]),
        Fig::Count(c[1]),
        of(Some(all.quantity as f64), &[c[1]], Fmt::Int),
        Fig::Count(c[2]),
        Fig::Count(c[3]),
        of(Some(all.shipped_quantity as f64), &[c[3]], Fmt::Int),
    ]);
    shared.prize_totals = Some(PrizeTotals {
        applied: c[0],
        accepted: c[1],
        rejected: c[2],
        shipped: c[3],
    });
    blocks.push(Block::Heading("景品ごとの申込みと発送".into()));
    blocks.push(Block::Table(t));
    Sheet {
        name: "景品",
        blocks,
        widths: vec![8.0, 30.0, 12.0, 12.0, 10.0, 10.0, 10.0, 14.0, 13.0],
    }
}

#[cfg(test)]
mod order_tests {
    use super::{OrderTallies, Tally};
    use crate::program::Program;

    /// Each prize row counts its orders by kind and each participant once per kind,
    /// whether their orders are together or not, and the unknown codes share one row.
    #[test]
    fn orders_are_counted_by_prize_with_each_participant_once_per_kind() {
        let program = Program::parse(
            include_str!("../../examples/program.toml"),
            "examples/program.toml",
        )
        .unwrap();
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE orders(id INTEGER PRIMARY KEY, participant_id TEXT, prize_code TEXT, \
             quantity INTEGER, status TEXT, shipment_id INTEGER); \
             CREATE INDEX orders_by_participant ON orders(participant_id, status);",
        )
        .unwrap();
        // (participant, prize, quantity, accepted, shipped), keyed out of participant order.
        let rows = [
            ("B", "T1", 2, true, false),
            ("A", "T1", 1, true, true),
            ("C", "ZZ", 1, false, false),
            ("A", "T1", 3, true, false),
            ("B", "XX", 1, false, false),
            ("A", "Q1", 1, false, false),
            ("B", "ZZ", 4, false, false),
            ("A", "T1", 1, true, true),
        ];
        for (pid, code, q, ok, shipped) in rows {
            conn.execute(
                "INSERT INTO orders(participant_id, prize_code, quantity, status, shipment_id) VALUES (?1,?2,?3,?4,?5)",
                rusqlite::params![
                    pid,
                    code,
                    q,
                    if ok { "accepted" } else { "rejected" },
                    shipped.then_some(1)
                ],
            )
            .unwrap();
        }
        let t = OrderTallies::count(&conn, &program).unwrap();
        let at = |code: &str| program.prizes.iter().position(|p| p.code == code).unwrap();
        let show = |t: &Tally| (t.orders, t.people, t.quantity, t.shipped_quantity);
        // applied, accepted, rejected, shipped, waiting
        assert_eq!(
            show(&t.rows[at("T1")]),
            ([4, 4, 0, 2, 2], [2, 2, 0, 1, 2], 7, 2)
        );
        assert_eq!(
            show(&t.rows[at("Q1")]),
            ([1, 0, 1, 0, 0], [1, 0, 1, 0, 0], 0, 0)
        );
        assert_eq!(show(t.unknown()), ([3, 0, 3, 0, 0], [2, 0, 2, 0, 0], 0, 0));
        assert_eq!(show(&t.all), ([8, 4, 4, 2, 2], [3, 2, 3, 1, 2], 7, 2));
    }
}

//! `points [--as-of DATE] [--out FILE] [--participant ID [--detail]]`: every
//! participant's points and balance, recomputed from the stored steps (see
//! `crate::points`), or one participant's day-by-day ledger.

use super::Ctx;
use crate::cli::PointsArgs;
use crate::db;
use crate::output::listing::ListFormat;
use crate::output::{TableWriter, Value};
use crate::points::{self, parse_iso, Scorer};
use anyhow::{bail, Result};
use chrono::NaiveDate;

pub const HEADERS: [&str; 7] = [
    "参加者番号",
    "記録日数",
    "合計歩数",
    "日々のポイント",
    "ボーナス",
    "使用ポイント",
    "残高",
];

pub const DETAIL_HEADERS: [&str; 7] = [
    "参加者番号",
    "区分",
    "日付",
    "歩数",
    "ポイント",
    "取込み",
    "内容",
];

pub fn run(ctx: &mut Ctx, args: &PointsArgs) -> Result<()> {
    let as_of = match &args.as_of {
        None => None,
        Some(s) => Some(crate::sheet::date::parse_date(s).map_err(|_| {
            crate::usage(format!(
                "--as-of「{s}」を日付として読めません（例: 2025-09-30、2025/9/30、R7.9.30） (not a date)"
            ))
        })?),
    };
    if let Some(d) = as_of {
        ctx.detail.arg("as_of", d.to_string());
    }
    let scorer = Scorer::new(&ctx.program, as_of);
    let mut w = match &args.out {
        Some(p) => TableWriter::create(p)?,
        None => TableWriter::stdout_as(args.format.map(Into::into).unwrap_or(ListFormat::Csv)),
    };
    let as_of_text = as_of
        .unwrap_or_else(crate::today)
        .format("%Y/%m/%d")
        .to_string();
    w.set_title(format!(
        "ポイント{}　{}　{as_of_text} 時点",
        match (&args.participant, args.detail) {
            (Some(p), true) => format!("の明細　参加者番号 {p}"),
            _ => "一覧".to_string(),
        },
        ctx.program.program.name
    ));
    if let Some(pid) = &args.participant {
        let pid = crate::sheet::normalize::normalize(pid).into_owned();
        if crate::import::roster::Participant::load(&ctx.conn, &pid)?.is_none() {
            bail!(
                "参加者番号 {pid} は名簿にありません。番号を確かめてください (participant.unknown)"
            );
        }
        ctx.detail.count("participants", 1);
        if args.detail {
            ctx.detail.arg("detail", true);
            detail(ctx, &scorer, as_of, &pid, &mut w)?;
        } else {
            w.sheet("ポイント", &HEADERS)?;
            let score = db::points::participant_score(&ctx.conn, &scorer, &pid)?;
            let used = db::points::used_points(&ctx.conn, as_of)?
                .remove(&pid)
                .unwrap_or(0);
            let s = points::Summary {
                participant_id: pid,
                score,
                used,
            };
            w.row(&summary_row(&s))?;
        }
    } else {
        w.sheet("ポイント", &HEADERS)?;
        let (mut people, mut earned, mut used) = (0u64, 0i64, 0i64);
        db::points::for_each_participant(&ctx.conn, &scorer, as_of, |s| {
            people += 1;
            earned += s.score.earned();
            used += s.used;
            w.row(&summary_row(&s))
        })?;
        ctx.detail.count("participants", people);
        ctx.detail.count("points_earned", earned);
        ctx.detail.count("points_used", used);
        ctx.say(format!(
            "{people} 名: 獲得 {earned} ポイント、使用 {used} ポイント、残高 {} ポイント{}",
            earned - used,
            as_of.map(|d| format!("（{d} 現在）")).unwrap_or_default()
        ));
    }
    if let Some(rec) = w.finish()? {
        ctx.say(format!("{}: 書き出しました", rec.shown()));
        ctx.detail.file(rec);
    }
    Ok(())
}

fn summary_row(s: &points::Summary) -> Vec<Value> {
    vec![
        Value::Text(s.participant_id.clone()),
        Value::Int(i64::from(s.score.days)),
        Value::Int(s.score.steps),
        Value::Int(s.score.day_points),
        Value::Int(s.score.bonus_points),
        Value::Int(s.used),
        Value::Int(s.balance()),
    ]
}

/// One participant's ledger: each stored day with its points and batch, each bonus
/// with its month, each order with the points it used.
fn detail(
    ctx: &mut Ctx,
    scorer: &Scorer,
    as_of: Option<NaiveDate>,
    pid: &str,
    w: &mut TableWriter,
) -> Result<()> {
    w.sheet("明細", &DETAIL_HEADERS)?;
    let age = db::points::participant_age(&ctx.conn, scorer, pid)?;
    let table = scorer.table_for(age);
    let table_name = format!("{}の表", scorer.table_name(table));
    let mut tally = scorer.tally(table);
    let p = &ctx.program.program;
    let mut days = 0u64;
    for day in db::points::ledger_days(&ctx.conn, pid)? {
        let db::points::LedgerDay { date, steps, batch } = day;
        let Some(d) = parse_iso(&date) else { continue };
        let (points, note) = match tally.add(d, steps) {
            Some(pts) => (
                Value::Int(pts),
                if scorer.capped(table, steps) {
                    format!("{table_name}（1日の上限で頭打ち）")
                } else {
                    table_name.clone()
                },
            ),
            None if d < p.start || d > p.end => (
                Value::Empty,
                format!("事業期間（{} 〜 {}）の外のため数えません", p.start, p.end),
            ),
            None => (
                Value::Empty,
                "基準日（--as-of）より後のため数えません".to_string(),
            ),
        };
        w.row(&[
            pid.into(),
            "日".into(),
            Value::Text(date),
            Value::Int(steps),
            points,
            Value::Int(batch),
            Value::Text(note),
        ])?;
        days += 1;
    }
    let score = tally.finish();
    for b in &score.bonuses {
        let rule = &scorer.bonuses()[b.bonus];
        w.row(&[
            pid.into(),
            "ボーナス".into(),
            Value::Text(format!("{}-{:02}", b.year, b.month)),
            Value::Empty,
            Value::Int(b.points),
            Value::Empty,
            Value::Text(format!(
                "{}（{} 歩以上の日が {} 日、条件 {} 日）",
                rule.name, rule.min_steps, b.days, rule.min_days
            )),
        ])?;
    }
    let mut used = 0i64;
    for o in db::points::ledger_orders(&ctx.conn, pid, as_of)? {
        if o.accepted {
            used += o.points;
        }
        let name = ctx
            .program
            .prize(&o.prize_code)
            .map(|p| format!("「{}」", p.name))
            .unwrap_or_default();
        w.row(&[
            pid.into(),
            "申込み".into(),
            Value::Text(o.applied_on),
            Value::Empty,
            if o.accepted {
                Value::Int(-o.points)
            } else {
                Value::Empty
            },
            Value::Int(o.batch),
            Value::Text(format!(
                "{}{name} × {}: {}",
                o.prize_code,
                o.quantity,
                if o.accepted {
                    "受付".to_string()
                } else {
                    let code = o.code.unwrap_or_default();
                    match crate::validate::meaning(&code) {
                        "" => format!("却下（{code}）"),
                        m => format!("却下: {m}"),
                    }
                }
            )),
        ])?;
    }
    // The balance the ledger comes to, as its last row.
    w.row(&[
        pid.into(),
        "残高".into(),
        Value::Text(as_of.unwrap_or_else(crate::today).to_string()),
        Value::Empty,
        Value::Int(score.earned() - used),
        Value::Empty,
        Value::Text(format!(
            "獲得 {}（日々 {}、ボーナス {}）− 使用 {used}",
            score.earned(),
            score.day_points,
            score.bonus_points
        )),
    ])?;
    ctx.detail.count("days", days);
    ctx.say(format!(
        "{pid}: 記録 {} 日、日々のポイント {}、ボーナス {}、使用 {used}、残高 {}",
        score.days,
        score.day_points,
        score.bonus_points,
        score.earned() - used
    ));
    Ok(())
}

//! `status [--format table|csv|json]`: what a database holds, for the supervisor at a
//! glance: the program and its period, the handlers, counts of everything kept, the
//! audit log's head and the close-out state. Counts only: no personal value.

use super::Ctx;
use crate::db;
use crate::output::listing::{ListFormat, Listing};
use crate::output::Value;
use anyhow::Result;

pub fn run(ctx: &mut Ctx, format: ListFormat) -> Result<()> {
    let h = db::status::holdings(&ctx.conn)?;
    let chain = crate::audit::verify(&ctx.conn)?;
    let p = &ctx.program.program;
    let closeout = db::meta_get(&ctx.conn, db::META_CLOSEOUT)?;
    let mut items: Vec<(&str, Value)> = vec![
        ("事業", p.name.as_str().into()),
        ("自治体", p.municipality.as_str().into()),
        ("受託者", p.contractor.as_str().into()),
        ("契約番号", p.contract_no.as_str().into()),
        (
            "事業期間",
            format!(
                "{}〜{}",
                p.start.format("%Y/%m/%d"),
                p.end.format("%Y/%m/%d")
            )
            .into(),
        ),
        (
            "取扱者",
            ctx.program
                .handlers
                .iter()
                .map(|h| format!("{}（{}）", h.name, h.role.as_ja()))
                .collect::<Vec<_>>()
                .join("、")
                .into(),
        ),
        ("データベース", ctx.db_path.display().to_string().into()),
        ("参加者", Value::Int(h.participants)),
    ];
    let batches: Vec<String> = h
        .batches
        .iter()
        .map(|(kind, ok, undone)| {
            let k = super::batches::kind_ja(kind);
            if *undone > 0 {
                format!("{k} {ok}（取消 {undone}）")
            } else {
                format!("{k} {ok}")
            }
        })
        .collect();
    items.push((
        "取込み",
        if batches.is_empty() {
            "なし".into()
        } else {
            batches.join("、").into()
        },
    ));
    items.push(("歩数の記録（日数）", Value::Int(h.step_days)));
    if let (Some(a), Some(b)) = (&h.first_day, &h.last_day) {
        items.push((
            "記録のある期間",
            format!("{a}〜{b}").replace('-', "/").into(),
        ));
    }
    items.extend([
        ("景品申込み 受付・未発送", Value::Int(h.orders_accepted)),
        ("景品申込み 発送済み", Value::Int(h.orders_shipped)),
        ("景品申込み 却下", Value::Int(h.orders_rejected)),
        ("発送", Value::Int(h.shipments)),
        ("参加案内の郵送", Value::Int(h.mailings)),
        ("参加案内を送った参加者", Value::Int(h.guidance_mailed)),
        ("アンケート回答（人×時期）", Value::Int(h.survey_answers)),
        ("記録した複製（書出しファイル）", Value::Int(h.copies)),
        ("監査ログ", Value::Int(chain.entries)),
        (
            "監査ログの連鎖",
            match &chain.broken {
                None => "正常".into(),
                Some((seq, _)) => {
                    format!("記録 {seq} で破損（`stepcard audit verify` で詳細）").into()
                }
            },
        ),
        ("先頭ハッシュ", chain.head.as_str().into()),
        (
            "契約終了の手続き",
            match &closeout {
                None => "未実施".into(),
                Some(v) => format!(
                    "途中（{} に開始）",
                    crate::shown_time(v.split('\t').nth(1).unwrap_or_default())
                )
                .into(),
            },
        ),
    ]);
    match format {
        ListFormat::Json => {
            let obj: serde_json::Map<String, serde_json::Value> = items
                .iter()
                .map(|(k, v)| {
                    let j = match v {
                        Value::Int(i) => serde_json::Value::from(*i),
                        Value::Text(s) => serde_json::Value::from(s.as_str()),
                        _ => serde_json::Value::Null,
                    };
                    (k.to_string(), j)
                })
                .collect();
            use std::io::Write;
            let mut o = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut o, &obj)?;
            writeln!(o)?;
        }
        _ => {
            let mut out = Listing::stdout(format, &["項目", "内容"])?;
            for (k, v) in items {
                let v = match v {
                    Value::Int(i) if format == ListFormat::Table => {
                        crate::output::listing::thousands(i).into()
                    }
                    other => other,
                };
                out.row(&[k.into(), v])?;
            }
            out.finish()?;
        }
    }
    Ok(())
}

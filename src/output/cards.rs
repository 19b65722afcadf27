//! Pre-printed point cards (記録台紙): one A4 page per participant and period, laid out
//! as the paper cards residents fill in: the participant number printed large and as a
//! QR code, the name, one grid per month with the days under their weekdays (a box per
//! day to write the steps in; days outside the program period shaded), the program's
//! point rules, and how and by when to mail the card back. Drawn through the one PDF
//! layer ([`super::pdf`]); what goes on a card is decided here, from the program file.

use super::pdf::{self, Align, Pdf};
use crate::program::{Band, Program};
use anyhow::Result;
use chrono::{Datelike, NaiveDate};

/// Months on one card: three month grids fit an A4 page with the rules below them.
pub const MONTHS_PER_CARD: usize = 3;

const LEFT: f64 = 15.0;
const WIDTH: f64 = 180.0;
const CELL_W: f64 = WIDTH / 7.0;
const CELL_H: f64 = 7.2;
const QR_MM: f64 = 30.0;
/// Where the months start, and the lowest the rules and instructions ever start (below
/// three months of six weeks); they start higher when the months are shorter.
const MONTHS_TOP: f64 = 50.0;
const BOTTOM_TOP: f64 = 226.0;
/// A month's title and weekday header, and the space after a month.
const MONTH_HEAD: f64 = 6.0 + 4.6;
const MONTH_GAP: f64 = 3.5;
const BOTTOM_END: f64 = 284.0;

const WEEKDAYS: [&str; 7] = ["日", "月", "火", "水", "木", "金", "土"];

/// The first day of each month from `first`'s month to `last`'s, split into cards of
/// [`MONTHS_PER_CARD`] months.
pub fn split_months(first: NaiveDate, last: NaiveDate) -> Vec<Vec<NaiveDate>> {
    let mut months = Vec::new();
    let mut m = first.with_day(1).unwrap_or(first);
    while m <= last {
        months.push(m);
        m = next_month(m);
    }
    months
        .chunks(MONTHS_PER_CARD)
        .map(<[NaiveDate]>::to_vec)
        .collect()
}

fn next_month(m: NaiveDate) -> NaiveDate {
    let (y, mo) = if m.month() == 12 {
        (m.year() + 1, 1)
    } else {
        (m.year(), m.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, mo, 1).unwrap_or(m)
}

fn days_in(m: NaiveDate) -> u32 {
    next_month(m).pred_opt().map_or(28, |d| d.day())
}

/// The card's due date: `day` of the month after its last month.
pub fn due_date(months: &[NaiveDate], day: u32) -> NaiveDate {
    let last = months.last().copied().unwrap_or_default();
    let next = next_month(last);
    next.with_day(day.clamp(1, 28)).unwrap_or(next)
}

/// `2025年8月10日（日）`.
pub fn date_ja(d: NaiveDate) -> String {
    format!(
        "{}年{}月{}日（{}）",
        d.year(),
        d.month(),
        d.day(),
        WEEKDAYS[d.weekday().num_days_from_sunday() as usize]
    )
}

fn month_ja(m: NaiveDate) -> String {
    format!("{}年{}月", m.year(), m.month())
}

/// `2025年5月〜7月` (or `〜2026年1月` across a year).
pub fn months_ja(months: &[NaiveDate]) -> String {
    match (months.first(), months.last()) {
        (Some(a), Some(b)) if a == b => month_ja(*a),
        (Some(a), Some(b)) if a.year() == b.year() => format!("{}〜{}月", month_ja(*a), b.month()),
        (Some(a), Some(b)) => format!("{}〜{}", month_ja(*a), month_ja(*b)),
        _ => String::new(),
    }
}

fn bands_ja(bands: &[Band]) -> String {
    bands
        .iter()
        .map(|b| format!("{}歩以上 {}ポイント", super::thousands(b.steps), b.points))
        .collect::<Vec<_>>()
        .join("、")
}

/// The program's point rules in plain Japanese, one paragraph per rule.
pub fn rules_text(p: &Program) -> String {
    let r = &p.points;
    let mut s = vec![
        "1日の歩数に応じてポイントがたまります。".to_string(),
        format!("・{}", bands_ja(&r.bands)),
    ];
    for a in &r.age_bands {
        s.push(format!(
            "・{}歳以上の方（{}時点の年齢）: {}",
            a.min_age,
            date_ja(p.program.start),
            bands_ja(&a.bands)
        ));
    }
    if let Some(cap) = r.daily_cap {
        s.push(format!("・1日にたまるのは {cap} ポイントまでです。"));
    }
    for b in &r.bonus {
        s.push(format!(
            "・ボーナス「{}」: 1か月に {}歩以上の日が {} 日以上で {} ポイント",
            b.name,
            super::thousands(b.min_steps),
            b.min_days,
            b.points
        ));
    }
    s.push(format!(
        "・1日の歩数は {} 歩までです。それより多い数は受け付けられません。",
        super::thousands(p.program.max_daily_steps)
    ));
    if !p.prizes.is_empty() {
        let prizes: Vec<String> = p
            .prizes
            .iter()
            .take(3)
            .map(|z| format!("{}（{}ポイント）", z.name, super::thousands(z.points)))
            .collect();
        s.push(format!(
            "・たまったポイントは景品と交換できます: {}{}",
            prizes.join("、"),
            if p.prizes.len() > 3 { " ほか" } else { "" }
        ));
    }
    s.join("\n")
}

/// Where the cards are mailed back: the program's `[shipping]` sender, else the
/// contractor (with the return envelope).
pub fn send_to(p: &Program) -> Vec<String> {
    let sh = p.shipping.as_ref();
    let name = sh
        .and_then(|s| s.sender_name.clone())
        .unwrap_or_else(|| p.program.contractor.clone());
    let mut out = Vec::new();
    match sh.and_then(|s| s.sender_address.clone()) {
        Some(addr) => {
            let postal = sh
                .and_then(|s| s.sender_postal_code.clone())
                .map(|c| format!("〒{c} "))
                .unwrap_or_default();
            let addr2 = sh
                .and_then(|s| s.sender_address2.clone())
                .map(|a| format!(" {a}"))
                .unwrap_or_default();
            out.push(format!("送付先: {postal}{addr}{addr2}"));
            out.push(format!("　　　　{name}"));
        }
        None => out.push(format!("送付先: {name}（同封の返信用封筒で）")),
    }
    if let Some(tel) = sh.and_then(|s| s.sender_phone.clone()) {
        out.push(format!("お問い合わせ: {tel}"));
    }
    out
}

/// The instructions for filling in and mailing one card.
pub fn instructions_text(p: &Program, due: NaiveDate) -> String {
    let mut s = vec![
        "・毎日の歩数を、その日の枠に数字で書いてください（例: 8500）。".to_string(),
        "・灰色の日は事業期間の外です。書かなくてかまいません。".to_string(),
        format!(
            "・この台紙は {} までに、下記へ郵送してください（当日消印有効）。",
            date_ja(due)
        ),
    ];
    s.extend(send_to(p));
    s.push("・右上の QR コードと参加者番号は、折ったり汚したりしないでください。".to_string());
    s.join("\n")
}

/// Every text a card prints that does not come from the participant (checked once for
/// characters the font lacks).
pub fn fixed_texts(p: &Program) -> String {
    [
        p.program.name.as_str(),
        &p.program.municipality,
        &p.program.department,
        &p.program.contractor,
        &rules_text(p),
        &send_to(p).join("\n"),
    ]
    .join("\n")
}

/// The rules and the instructions of one period, fitted to their boxes once and drawn
/// on every participant's card for that period.
pub struct Bottom {
    top: f64,
    columns: [(&'static str, f64, Vec<String>); 2],
}

/// The height of a month's grid: its head and a row per week it spans.
fn month_height(m: NaiveDate) -> f64 {
    let weeks = (m.weekday().num_days_from_sunday() + days_in(m)).div_ceil(7);
    MONTH_HEAD + f64::from(weeks) * CELL_H
}

const BOTTOM_GAP: f64 = 6.0;

fn bottom_col_w() -> f64 {
    (WIDTH - BOTTOM_GAP) / 2.0
}

/// Fit the rules and the instructions (due `due`) to their columns, below `months`.
pub fn bottom(p: &Program, months: &[NaiveDate], due: NaiveDate) -> Bottom {
    let col_w = bottom_col_w();
    let grids: f64 = months.iter().map(|m| month_height(*m) + MONTH_GAP).sum();
    let top = (MONTHS_TOP + grids + 2.0).min(BOTTOM_TOP);
    let h = BOTTOM_END - top - 6.0;
    let fit = |text: String| {
        pdf::fit(&text, col_w, h, 10.5, 5.5, 1.4)
            .unwrap_or_else(|| (5.5, pdf::wrap(&text, 5.5, col_w)))
    };
    let (a, b) = (fit(rules_text(p)), fit(instructions_text(p, due)));
    Bottom {
        top,
        columns: [
            ("ポイントのしくみ", a.0, a.1),
            ("記入と送付のしかた", b.0, b.1),
        ],
    }
}

/// One card to draw.
pub struct Card<'a> {
    pub participant_id: &'a str,
    pub name: &'a str,
    /// The first day of each month on the card.
    pub months: &'a [NaiveDate],
    /// 1-based number of this card among the participant's, and how many there are.
    pub index: usize,
    pub of: usize,
    /// The period's rules and instructions ([`bottom`]).
    pub bottom: &'a Bottom,
}

/// Draw `card` on a new page.
pub fn draw(pdf: &mut Pdf, p: &Program, card: &Card) -> Result<()> {
    pdf.page()?;
    // Header: the program, the card, the participant number, the name, the QR code.
    pdf.text(LEFT, 11.0, 9.0, &p.program.name);
    pdf.text(LEFT, 16.0, 17.0, "健康ポイント 記録台紙");
    let of = if card.of > 1 {
        format!("　{} 枚のうち {} 枚目", card.of, card.index)
    } else {
        String::new()
    };
    pdf.text(
        LEFT,
        25.0,
        9.0,
        &format!("記録する期間: {}{of}", months_ja(card.months)),
    );
    pdf.text_gray(LEFT, 31.5, 7.5, "参加者番号", Align::Left, 0.35);
    pdf.text(LEFT, 35.0, 22.0, card.participant_id);
    pdf.text_gray(95.0, 31.5, 7.5, "氏名", Align::Left, 0.35);
    let name = format!("{}　様", card.name.trim());
    let (size, lines) =
        pdf::fit(&name, 62.0, 9.0, 14.0, 8.0, 1.2).unwrap_or((8.0, pdf::wrap(&name, 8.0, 62.0)));
    pdf.lines(95.0, 36.0, size, 1.2, &lines);
    let qx = LEFT + WIDTH - QR_MM;
    pdf.qr(qx, 8.0, QR_MM, card.participant_id)?;
    pdf.text_aligned(
        qx + QR_MM / 2.0,
        38.0,
        6.5,
        "参加者番号の QR コード",
        Align::Center,
    );
    pdf.line(LEFT, 46.0, LEFT + WIDTH, 46.0, 0.8);

    // The months.
    let mut y = MONTHS_TOP;
    for m in card.months {
        y = month_grid(pdf, p, *m, y) + MONTH_GAP;
    }

    // The rules and the instructions, side by side.
    let top = card.bottom.top;
    pdf.line(LEFT, top - 2.0, LEFT + WIDTH, top - 2.0, 0.4);
    for (i, (title, size, lines)) in card.bottom.columns.iter().enumerate() {
        let x = LEFT + i as f64 * (bottom_col_w() + BOTTOM_GAP);
        pdf.text(x, top, 10.0, title);
        pdf.lines(x, top + 6.0, *size, 1.4, lines);
    }
    let footer = format!(
        "{} {}（事業の委託先: {}）",
        p.program.municipality, p.program.department, p.program.contractor
    );
    pdf.text_gray(LEFT, 287.0, 7.0, &footer, Align::Left, 0.35);
    pdf.text_gray(
        LEFT + WIDTH,
        287.0,
        7.0,
        &format!("{}　{}/{}", card.participant_id, card.index, card.of),
        Align::Right,
        0.35,
    );
    Ok(())
}

/// One month: its title, the weekday header, a box per day under its weekday (shaded
/// outside the program period). Returns the y below it.
fn month_grid(pdf: &mut Pdf, p: &Program, m: NaiveDate, top: f64) -> f64 {
    let (start, end) = (p.program.start, p.program.end);
    let n = days_in(m);
    let last = m.with_day(n).unwrap_or(m);
    pdf.text(LEFT, top, 12.0, &month_ja(m));
    let mut note = Vec::new();
    if start > m && start <= last {
        note.push(format!("{}日から", start.day()));
    }
    if end >= m && end < last {
        note.push(format!("{}日まで", end.day()));
    }
    let note = if note.is_empty() {
        "各日の歩数を記入".to_string()
    } else {
        format!("事業期間は {}（各日の歩数を記入）", note.join("・"))
    };
    pdf.text_gray(LEFT + 28.0, top + 1.6, 8.0, &note, Align::Left, 0.3);
    let head = top + 6.0;
    for (i, w) in WEEKDAYS.iter().enumerate() {
        let x = LEFT + i as f64 * CELL_W;
        pdf.fill_rect(x, head, CELL_W, 4.6, 0.88);
        pdf.rect(x, head, CELL_W, 4.6, 0.4);
        pdf.text_aligned(x + CELL_W / 2.0, head + 0.9, 8.0, w, Align::Center);
    }
    let first_col = m.weekday().num_days_from_sunday() as usize;
    let rows_top = head + 4.6;
    let mut bottom = rows_top;
    for d in 1..=n {
        let slot = first_col + d as usize - 1;
        let (r, c) = (slot / 7, slot % 7);
        let x = LEFT + c as f64 * CELL_W;
        let y = rows_top + r as f64 * CELL_H;
        let date = m.with_day(d).unwrap_or(m);
        let inside = date >= start && date <= end;
        if !inside {
            pdf.fill_rect(x, y, CELL_W, CELL_H, 0.78);
        }
        pdf.rect(x, y, CELL_W, CELL_H, 0.4);
        pdf.text_gray(x + 1.0, y + 0.7, 7.0, &d.to_string(), Align::Left, 0.25);
        if inside {
            pdf.text_gray(
                x + CELL_W - 1.0,
                y + CELL_H - 3.2,
                6.0,
                "歩",
                Align::Right,
                0.45,
            );
        }
        bottom = y + CELL_H;
    }
    bottom
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn three_six_week_months_stay_above_the_rules() {
        // August 2025 starts on a Friday and spans six weeks; a card of three such
        // months must not reach the line above the rules and instructions.
        let m = d(2025, 8, 1);
        assert_eq!(month_height(m), MONTH_HEAD + 6.0 * CELL_H);
        let month = month_height(m) + MONTH_GAP;
        // Shorter months leave the rules more room: May–July 2025 span five weeks each.
        let p = crate::program::Program::parse(
            include_str!("../../examples/program.toml"),
            "program.toml",
        )
        .unwrap();
        let months = [d(2025, 5, 1), d(2025, 6, 1), d(2025, 7, 1)];
        let b = bottom(&p, &months, d(2025, 8, 10));
        let five = MONTHS_TOP + 3.0 * (MONTH_HEAD + 5.0 * CELL_H + MONTH_GAP) + 2.0;
        assert!((b.top - five).abs() < 1e-9, "{}", b.top);
        let worst = bottom(&p, &[m, m, m], d(2025, 11, 10));
        assert!(worst.top <= BOTTOM_TOP, "{}", worst.top);
        assert!(
            b.columns[0].1 > worst.columns[0].1,
            "{} {}",
            b.columns[0].1,
            worst.columns[0].1
        );
        assert!(
            MONTHS_TOP + 3.0 * month <= BOTTOM_TOP - 2.0,
            "{}",
            MONTHS_TOP + 3.0 * month
        );
    }

    #[test]
    fn months_split_into_cards_of_three() {
        let cards = split_months(d(2025, 5, 14), d(2026, 3, 31));
        assert_eq!(
            cards.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3, 3, 3, 2]
        );
        assert_eq!(cards[0][0], d(2025, 5, 1));
        assert_eq!(cards[3][1], d(2026, 3, 1));
        assert_eq!(months_ja(&cards[0]), "2025年5月〜7月");
        assert_eq!(months_ja(&cards[2]), "2025年11月〜2026年1月");
        assert_eq!(due_date(&cards[0], 10), d(2025, 8, 10));
        assert_eq!(due_date(&cards[2], 10), d(2026, 2, 10));
        assert_eq!(date_ja(d(2025, 8, 10)), "2025年8月10日（日）");
        assert_eq!(days_in(d(2024, 2, 1)), 29);
        assert_eq!(days_in(d(2025, 12, 1)), 31);
    }
}

//! What ships, in what order, and what is refused: the shipping decisions as pure
//! functions over rows already read from the store (`db::shipments`, `db::mailings`).
//! The documents (`output::shiplist`, `output::carrier`, `output::labels`) and the
//! commands (`cmd::ship`, `cmd::labels`) only call these; the one check that a parcel or
//! a label can reach its addressee ([`address_problems`]) lives here and nowhere else.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

/// One shipped order, with the participant's current address (`name` is empty when the
/// participant is not on the roster).
#[derive(Debug, Clone, PartialEq)]
pub struct ListRow {
    pub shipment: i64,
    pub participant_id: String,
    pub name: String,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub address2: Option<String>,
    pub phone: Option<String>,
    pub prize_code: String,
    pub prize_name: String,
    pub quantity: i64,
}

/// One prize line of a parcel.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub code: String,
    pub name: String,
    pub quantity: i64,
}

/// One participant's prizes in one shipment.
#[derive(Debug, Clone, PartialEq)]
pub struct Parcel {
    pub shipment: i64,
    pub participant_id: String,
    pub name: String,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub address2: Option<String>,
    pub phone: Option<String>,
    pub items: Vec<Item>,
}

/// Who gets a mailing label.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub participant_id: String,
    pub name: String,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub address2: Option<String>,
}

/// A reason a file cannot be written, with the participant it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub participant_id: String,
    pub code: &'static str,
    pub column: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}「{}」: {} ({})",
            self.participant_id, self.column, self.message, self.code
        )
    }
}

/// The order a carrier or the post office sorts in: by postal code (none last), then
/// by participant so each participant's things are together.
pub fn postal_order(a: (Option<&str>, &str), b: (Option<&str>, &str)) -> Ordering {
    (a.0.is_none(), a.0, a.1).cmp(&(b.0.is_none(), b.0, b.1))
}

/// Orders in shipping order: postal code, participant, prize, then order id.
pub fn sort_orders(rows: &mut [(i64, ListRow)]) {
    rows.sort_by(|(ia, a), (ib, b)| {
        postal_order(
            (a.postal_code.as_deref(), &a.participant_id),
            (b.postal_code.as_deref(), &b.participant_id),
        )
        .then_with(|| a.prize_code.cmp(&b.prize_code))
        .then(ia.cmp(ib))
    });
}

/// Label recipients in the same postal order.
pub fn sort_recipients(rows: &mut [Recipient]) {
    rows.sort_by(|a, b| {
        postal_order(
            (a.postal_code.as_deref(), &a.participant_id),
            (b.postal_code.as_deref(), &b.participant_id),
        )
    });
}

/// One row's prize name from the program file (a code the program lacks keeps an empty
/// name, shown blank on the list).
pub fn name_prize(r: &mut ListRow, program: &crate::program::Program) {
    r.prize_name = program
        .prize(&r.prize_code)
        .map(|p| p.name.clone())
        .unwrap_or_default();
}

/// One parcel per participant (the rows are sorted so a participant's rows are together).
pub fn parcels(rows: &[ListRow]) -> Vec<Parcel> {
    let mut out: Vec<Parcel> = Vec::new();
    for r in rows {
        let item = Item {
            code: r.prize_code.clone(),
            name: r.prize_name.clone(),
            quantity: r.quantity,
        };
        match out.last_mut() {
            Some(p) if p.participant_id == r.participant_id => p.items.push(item),
            _ => out.push(Parcel {
                shipment: r.shipment,
                participant_id: r.participant_id.clone(),
                name: r.name.clone(),
                postal_code: r.postal_code.clone(),
                address: r.address.clone(),
                address2: r.address2.clone(),
                phone: r.phone.clone(),
                items: vec![item],
            }),
        }
    }
    out
}

/// The one check that mail can reach someone: a postal code and an address.
pub fn address_problems(
    participant_id: &str,
    postal_code: Option<&str>,
    address: Option<&str>,
    out: &mut Vec<Problem>,
) {
    const FIX: &str = "名簿に入れて roster import --update で取り込み直してください";
    if postal_code.unwrap_or("").is_empty() {
        out.push(Problem {
            participant_id: participant_id.to_string(),
            code: "postal_code.missing",
            column: "郵便番号".into(),
            message: format!("郵便番号がありません。{FIX}"),
        });
    }
    if address.unwrap_or("").trim().is_empty() {
        out.push(Problem {
            participant_id: participant_id.to_string(),
            code: "address.missing",
            column: "住所".into(),
            message: format!("住所がありません。{FIX}"),
        });
    }
}

/// Problems a shipment has whatever its format: a parcel cannot go without a postal
/// code and an address, nor to someone not on the roster.
pub fn destination_problems(parcels: &[Parcel]) -> Vec<Problem> {
    let mut out = Vec::new();
    for p in parcels {
        destination_problem(
            &p.participant_id,
            &p.name,
            p.postal_code.as_deref(),
            p.address.as_deref(),
            &mut out,
        );
    }
    out
}

fn destination_problem(
    pid: &str,
    name: &str,
    postal_code: Option<&str>,
    address: Option<&str>,
    out: &mut Vec<Problem>,
) {
    if name.is_empty() {
        out.push(Problem {
            participant_id: pid.to_string(),
            code: "participant.unknown",
            column: "参加者番号".into(),
            message: "名簿にない参加者です。名簿を取り込み直してください".into(),
        });
        return;
    }
    address_problems(pid, postal_code, address, out);
}

/// What a shipment holds, for the operator and the audit log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub orders: usize,
    pub participants: usize,
    pub quantity: i64,
    pub per_prize: BTreeMap<String, i64>,
}

/// A shipment's rows counted as they pass, in shipping order (a participant's rows are
/// together), never held: what the shipment holds, the parcels' destination problems
/// (as [`destination_problems`] finds them) and the participants without a phone
/// number, one check per parcel.
#[derive(Debug, Default)]
pub struct Tally {
    pub summary: Summary,
    pub problems: Vec<Problem>,
    pub missing_phone: Vec<String>,
    last: Option<String>,
}

impl Tally {
    pub fn add(&mut self, r: &ListRow) {
        let s = &mut self.summary;
        s.orders += 1;
        s.quantity += r.quantity;
        match s.per_prize.get_mut(&r.prize_code) {
            Some(q) => *q += r.quantity,
            None => {
                s.per_prize.insert(r.prize_code.clone(), r.quantity);
            }
        }
        if self.last.as_deref() == Some(r.participant_id.as_str()) {
            return;
        }
        s.participants += 1;
        destination_problem(
            &r.participant_id,
            &r.name,
            r.postal_code.as_deref(),
            r.address.as_deref(),
            &mut self.problems,
        );
        if r.phone.as_deref().unwrap_or("").is_empty() {
            self.missing_phone.push(r.participant_id.clone());
        }
        self.last = Some(r.participant_id.clone());
    }

    /// Whether a problem is one of the destination checks this tally makes.
    pub fn is_destination_problem(p: &Problem) -> bool {
        matches!(
            p.code,
            "participant.unknown" | "postal_code.missing" | "address.missing"
        )
    }
}

/// Rows (in shipping order) grouped into one [`Parcel`] per participant as they pass,
/// as [`parcels`] does for rows held.
pub struct Parcels<I: Iterator<Item = ListRow>> {
    rows: std::iter::Peekable<I>,
}

impl<I: Iterator<Item = ListRow>> Parcels<I> {
    pub fn new(rows: I) -> Self {
        Parcels {
            rows: rows.peekable(),
        }
    }
}

impl<I: Iterator<Item = ListRow>> Iterator for Parcels<I> {
    type Item = Parcel;
    fn next(&mut self) -> Option<Parcel> {
        let r = self.rows.next()?;
        let item = |r: ListRow| Item {
            code: r.prize_code,
            name: r.prize_name,
            quantity: r.quantity,
        };
        let mut p = Parcel {
            shipment: r.shipment,
            participant_id: r.participant_id.clone(),
            name: r.name.clone(),
            postal_code: r.postal_code.clone(),
            address: r.address.clone(),
            address2: r.address2.clone(),
            phone: r.phone.clone(),
            items: vec![item(r)],
        };
        while let Some(r) = self.rows.next_if(|n| n.participant_id == p.participant_id) {
            p.items.push(item(r));
        }
        Some(p)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} 名・{} 件（{}）",
            self.participants,
            self.orders,
            self.per_prize
                .iter()
                .map(|(c, q)| format!("{c} × {q}"))
                .collect::<Vec<_>>()
                .join("、")
        )
    }
}

/// The file a shipment is written as: the shipping list, or a carrier's import file
/// (by the carrier's `--format` name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipFormat {
    Xlsx,
    Csv,
    Carrier(String),
}

impl ShipFormat {
    pub fn as_str(&self) -> &str {
        match self {
            ShipFormat::Xlsx => "xlsx",
            ShipFormat::Csv => "csv",
            ShipFormat::Carrier(id) => id,
        }
    }

    fn parse(s: &str) -> ShipFormat {
        match s {
            "xlsx" => ShipFormat::Xlsx,
            "csv" => ShipFormat::Csv,
            id => ShipFormat::Carrier(id.to_string()),
        }
    }

    fn file_ext(&self) -> &'static str {
        match self {
            ShipFormat::Xlsx => ".xlsx",
            _ => ".csv",
        }
    }
}

/// The file name's extension decides between .xlsx and .csv; `--format` (an accepted
/// name: xlsx, csv or a carrier's) must agree with it.
pub fn resolve_format(given: Option<&str>, out: &Path) -> Result<ShipFormat, String> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match (given.map(ShipFormat::parse), ext.as_deref()) {
        (None, Some("xlsx")) | (Some(ShipFormat::Xlsx), Some("xlsx")) => Ok(ShipFormat::Xlsx),
        (None, Some("csv")) => Ok(ShipFormat::Csv),
        (Some(f), Some("csv")) if f != ShipFormat::Xlsx => Ok(f),
        (Some(f), _) => Err(format!(
            "{}: --format {} の出力ファイルは {} にしてください (the file name must end in {})",
            out.display(),
            f.as_str(),
            f.file_ext(),
            f.file_ext(),
        )),
        (None, _) => Err(format!(
            "{}: 出力ファイルは .xlsx か .csv にしてください。送り状ソフト用は --format yamato-b2 か --format yupack と .csv (the output must end in .xlsx or .csv)",
            out.display()
        )),
    }
}

/// The format a reprint is written in: without `--format`, a `.csv` reprint of a
/// carrier file stays that carrier's file.
pub fn reprint_format(
    given: Option<&str>,
    original: &str,
    out: &Path,
) -> Result<ShipFormat, String> {
    let is_csv = out
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let keep =
        (given.is_none() && is_csv && !matches!(original, "xlsx" | "csv")).then_some(original);
    resolve_format(given.or(keep), out)
}

/// What `labels --guidance --participant ID` knows of a named participant.
#[derive(Debug, Clone, PartialEq)]
pub struct GuidanceTarget {
    pub id: String,
    /// The roster's 利用区分, None when not on the roster.
    pub channel: Option<String>,
    /// The last guidance mailing that reached them, and when.
    pub mailed: Option<(i64, String)>,
}

/// Why a named participant cannot get a guidance label: not on the roster, not a card
/// participant (`card` is the card channel's name), or mailed already without `resend`.
pub fn guidance_refusals(targets: &[GuidanceTarget], card: &str, resend: bool) -> Vec<String> {
    let mut out = Vec::new();
    for t in targets {
        let id = &t.id;
        match (&t.channel, &t.mailed) {
            (None, _) => out.push(format!("{id}: 名簿にありません (participant.unknown)")),
            (Some(c), _) if c != card => out.push(format!(
                "{id}: 利用区分が「{c}」です。参加案内の郵送は台紙の参加者だけです (not a card participant)"
            )),
            (Some(_), Some((m, at))) if !resend => out.push(format!(
                "{id}: 参加案内は送付済みです（郵送 {m}、{}）。もう一度送るときは --resend (already mailed)",
                at.get(..10).unwrap_or(at)
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: &str, postal: Option<&str>, code: &str, q: i64) -> ListRow {
        ListRow {
            shipment: 1,
            participant_id: pid.into(),
            name: format!("{pid} さん"),
            postal_code: postal.map(str::to_string),
            address: Some("東京都新宿区1-1".into()),
            address2: None,
            phone: Some("03-1111-2222".into()),
            prize_code: code.into(),
            prize_name: String::new(),
            quantity: q,
        }
    }

    #[test]
    fn orders_ship_by_postal_code_then_participant_with_no_postal_code_last() {
        let mut rows = vec![
            (1, row("C3", None, "T1", 1)),
            (2, row("C2", Some("162-0041"), "T2", 1)),
            (3, row("C1", Some("162-0041"), "T1", 1)),
            (4, row("C2", Some("162-0041"), "T1", 1)),
            (5, row("C9", Some("160-0023"), "T1", 1)),
        ];
        sort_orders(&mut rows);
        let ids: Vec<i64> = rows.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, vec![5, 3, 4, 2, 1]);
        let rows: Vec<ListRow> = rows.into_iter().map(|(_, r)| r).collect();
        let p = parcels(&rows);
        assert_eq!(p.len(), 4, "one parcel per participant");
        assert_eq!(p[2].items.len(), 2);
        assert_eq!(Parcels::new(rows.iter().cloned()).collect::<Vec<_>>(), p);
        let mut t = Tally::default();
        rows.iter().for_each(|r| t.add(r));
        assert_eq!(t.summary.to_string(), "4 名・5 件（T1 × 4、T2 × 1）");
    }

    #[test]
    fn the_lists_check_each_parcel_once_from_the_rows() {
        let rows = vec![
            row("A", None, "T1", 1),
            row("A", None, "T2", 1),
            row("B", Some("1600022"), "T1", 1),
        ];
        let mut t = Tally::default();
        rows.iter().for_each(|r| t.add(r));
        assert_eq!(t.problems, destination_problems(&parcels(&rows)));
        assert_eq!(t.problems.len(), 1, "one postal-code problem for A, once");
        let no_phone: Vec<String> = parcels(&rows)
            .iter()
            .filter(|p| p.phone.as_deref().unwrap_or("").is_empty())
            .map(|p| p.participant_id.clone())
            .collect();
        assert_eq!(t.missing_phone, no_phone);
        assert_eq!(t.summary.participants, 2);
    }

    #[test]
    fn a_destination_without_postal_code_or_address_is_refused_once_each() {
        let mut r = row("C1", Some(""), "T1", 1);
        r.address = Some("  ".into());
        let mut unknown = row("C2", Some("1"), "T1", 1);
        unknown.name = String::new();
        unknown.address = None;
        let p = destination_problems(&parcels(&[r, unknown]));
        let codes: Vec<&str> = p.iter().map(|p| p.code).collect();
        assert_eq!(
            codes,
            vec![
                "postal_code.missing",
                "address.missing",
                "participant.unknown"
            ]
        );
        assert_eq!(
            p[0].to_string(),
            "C1「郵便番号」: 郵便番号がありません。名簿に入れて roster import --update で取り込み直してください (postal_code.missing)"
        );
        let mut labels = Vec::new();
        address_problems("C1", None, Some("東京"), &mut labels);
        assert_eq!(labels.len(), 1);
        assert_eq!(labels[0].code, "postal_code.missing");
    }

    #[test]
    fn the_file_name_and_format_must_agree() {
        let p = Path::new;
        assert_eq!(resolve_format(None, p("a.xlsx")), Ok(ShipFormat::Xlsx));
        assert_eq!(resolve_format(None, p("a.CSV")), Ok(ShipFormat::Csv));
        assert_eq!(
            resolve_format(Some("yupack"), p("a.csv")),
            Ok(ShipFormat::Carrier("yupack".into()))
        );
        let e = resolve_format(Some("yamato-b2"), p("a.xlsx")).unwrap_err();
        assert!(
            e.contains("--format yamato-b2 の出力ファイルは .csv"),
            "{e}"
        );
        assert!(resolve_format(Some("xlsx"), p("a.csv")).is_err());
        assert!(resolve_format(None, p("a.txt")).is_err());
        // A reprint of a carrier file to .csv stays a carrier file; .xlsx is the list.
        assert_eq!(
            reprint_format(None, "yamato-b2", p("r.csv")),
            Ok(ShipFormat::Carrier("yamato-b2".into()))
        );
        assert_eq!(
            reprint_format(None, "yamato-b2", p("r.xlsx")),
            Ok(ShipFormat::Xlsx)
        );
        assert_eq!(
            reprint_format(None, "xlsx", p("r.csv")),
            Ok(ShipFormat::Csv)
        );
        assert_eq!(
            reprint_format(Some("csv"), "yupack", p("r.csv")),
            Ok(ShipFormat::Csv)
        );
    }

    #[test]
    fn guidance_is_refused_to_strangers_app_users_and_the_already_mailed() {
        let t = |id: &str, ch: Option<&str>, mailed: Option<(i64, &str)>| GuidanceTarget {
            id: id.into(),
            channel: ch.map(str::to_string),
            mailed: mailed.map(|(m, at)| (m, at.to_string())),
        };
        let targets = [
            t("C1", None, None),
            t("C2", Some("アプリ"), None),
            t("C3", Some("台紙"), Some((2, "2025-10-01T10:00:00+09:00"))),
            t("C4", Some("台紙"), None),
        ];
        let r = guidance_refusals(&targets, "台紙", false);
        assert_eq!(r.len(), 3);
        assert!(r[2].contains("郵送 2、2025-10-01"), "{}", r[2]);
        assert_eq!(guidance_refusals(&targets, "台紙", true).len(), 2);
    }
}

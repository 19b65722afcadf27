//! Shipping and labels: what a shipment holds and in what order, never twice, reprint,
//! dry run, the CP932 pre-flight of carrier files, label sheets, and the guidance
//! mailing that reaches each card participant once.

use crate::harness::*;

const PROGRAM_TOML: &str = r#"
[program]
name = "テスト健康ポイント"
municipality = "テスト市"
contractor = "株式会社テスト"
contract_no = "T-1"
start = 2025-05-14
end = 2025-08-31

[points]
bands = [ { steps = 2000, points = 1 }, { steps = 10000, points = 5 } ]

[[prizes]]
code = "G1"
name = "歩数計"
points = 10
stock = 100

[[prizes]]
code = "T1"
name = "商品券 500円分"
points = 20
stock = 100

[shipping]
sender_postal_code = "160-0023"
sender_address = "東京都新宿区西新宿1-2-3"
sender_phone = "03-1234-5678"
yamato_customer_code = "012345678901"
yamato_freight_no = "01"

[labels]
layout = "my-10"
cols = 2
rows = 5
width_mm = 90.0
height_mm = 50.0
left_mm = 15.0
top_mm = 23.5

[[handlers]]
name = "山田 太郎"
role = "responsible"
"#;

/// P001–P002, P004 ordinary card participants (P004 has no phone), P003 an app user,
/// P005 a card participant whose name has 𠮷 (not in CP932) and an emoji in the
/// building name.
const ROSTER: &str = "参加者番号,氏名,郵便番号,住所,方書,電話番号,年齢,利用区分\n\
P001,試験 一郎,160-0022,東京都新宿区新宿1-1-1,,03-1111-0001,40,台紙\n\
P002,試験 二郎,100-0001,東京都千代田区千代田1-1 皇居ハイツ101,,03-1111-0002,40,台紙\n\
P003,試験 三郎,060-0001,北海道札幌市中央区北一条西2-1,,011-111-0003,40,アプリ\n\
P004,試験 四郎,530-0001,大阪府大阪市北区梅田1-1-1,,,40,台紙\n\
P005,𠮷田 花子,900-0001,沖縄県那覇市港町1-1,ハイツ🌺202,098-111-0005,40,台紙\n";

fn steps() -> String {
    let mut s = String::from("参加者番号,日付,歩数\n");
    for p in ["P001", "P002", "P003", "P004", "P005"] {
        for d in 1..=20 {
            s.push_str(&format!("{p},2025-06-{d:02},10000\n"));
        }
    }
    s
}

/// Every participant has 100 points. `orders` are `(participant, prize, quantity)`.
fn setup_with(program: &str, orders: &[(&str, &str, i64)]) -> Env {
    let e = Env::new();
    e.write("program.toml", program);
    e.run(&["init", "--program", "program.toml"]).ok();
    e.write("roster.csv", ROSTER);
    e.run(&["roster", "import", "roster.csv"]).ok();
    e.write("steps.csv", &steps());
    e.run(&["steps", "import", "steps.csv"]).ok();
    if !orders.is_empty() {
        import_orders(&e, "orders.csv", orders);
    }
    e
}

fn import_orders(e: &Env, name: &str, orders: &[(&str, &str, i64)]) {
    let mut s = String::from("参加者番号,景品コード,数量,申込日\n");
    for (p, c, q) in orders {
        s.push_str(&format!("{p},{c},{q},2025-09-01\n"));
    }
    e.write(name, &s);
    e.run(&["orders", "import", name]).ok();
}

/// Orders from the participants a carrier file can take.
const CLEAN: &[(&str, &str, i64)] = &[
    ("P001", "T1", 1),
    ("P002", "G1", 2),
    ("P003", "G1", 1),
    ("P001", "G1", 1),
];

fn setup() -> Env {
    setup_with(PROGRAM_TOML, CLEAN)
}

fn shipped(e: &Env) -> Vec<(String, String, Option<i64>)> {
    let c = e.conn();
    let mut stmt = c
        .prepare("SELECT participant_id, prize_code, shipment_id FROM orders ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn cp932_text(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad, "not CP932");
    text.into_owned()
}

#[test]
fn a_shipment_holds_every_accepted_unshipped_order_sorted_by_postal_code() {
    let e = setup();
    // A rejected order (unknown prize) is not shipped.
    import_orders(&e, "more.csv", &[("P002", "X9", 1)]);
    e.run(&["ship", "--out", "list.xlsx"])
        .ok()
        .stderr_has("発送 1: 3 名・4 件（G1 × 4、T1 × 1）を発送済みにしました");
    let sheet = read_xlsx(&e.path("list.xlsx"), "発送リスト");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        sheet,
        vec![
            s(&[
                "発送番号",
                "参加者番号",
                "氏名",
                "郵便番号",
                "住所",
                "方書",
                "電話番号",
                "景品コード",
                "景品名",
                "数量"
            ]),
            s(&[
                "1",
                "P003",
                "試験 三郎",
                "060-0001",
                "北海道札幌市中央区北一条西2-1",
                "",
                "011-111-0003",
                "G1",
                "歩数計",
                "1"
            ]),
            s(&[
                "1",
                "P002",
                "試験 二郎",
                "100-0001",
                "東京都千代田区千代田1-1",
                "皇居ハイツ101",
                "03-1111-0002",
                "G1",
                "歩数計",
                "2"
            ]),
            s(&[
                "1",
                "P001",
                "試験 一郎",
                "160-0022",
                "東京都新宿区新宿1-1-1",
                "",
                "03-1111-0001",
                "G1",
                "歩数計",
                "1"
            ]),
            s(&[
                "1",
                "P001",
                "試験 一郎",
                "160-0022",
                "東京都新宿区新宿1-1-1",
                "",
                "03-1111-0001",
                "T1",
                "商品券 500円分",
                "1"
            ]),
            s(&["", "", "", "", "", "", "", "", "", ""]),
            s(&[
                "合計: 4 件、3 名、数量 5",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                ""
            ]),
        ]
    );
    assert_eq!(
        shipped(&e),
        vec![
            ("P001".into(), "T1".into(), Some(1)),
            ("P002".into(), "G1".into(), Some(1)),
            ("P003".into(), "G1".into(), Some(1)),
            ("P001".into(), "G1".into(), Some(1)),
            ("P002".into(), "X9".into(), None),
        ]
    );
    let (orders, people, qty, format, sha): (i64, i64, i64, String, String) = e
        .conn()
        .query_row(
            "SELECT orders, participants, quantity, format, file_sha256 FROM shipments WHERE id=1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!((orders, people, qty, format.as_str()), (4, 3, 5, "xlsx"));
    let exported: String = e
        .conn()
        .query_row(
            "SELECT sha256 FROM exports WHERE path LIKE '%list.xlsx'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        exported, sha,
        "the audit log records the file the shipment holds"
    );
    let detail: String = e
        .conn()
        .query_row(
            "SELECT detail FROM audit_log WHERE command='ship' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(detail.contains("\"orders\":4"), "{detail}");
    assert!(
        !detail.contains("試験") && !detail.contains("新宿"),
        "{detail}"
    );
}

#[test]
fn a_second_ship_never_sends_an_order_again() {
    let e = setup();
    e.run(&["ship", "--out", "first.csv"]).ok();
    e.run(&["ship", "--out", "second.csv"]).ok().stderr_has(
        "発送する申込みはありません: 受付済みで未発送の申込みは 0 件です（発送済み 4 件）",
    );
    assert!(!e.path("second.csv").exists());
    assert_eq!(e.count("SELECT count(*) FROM shipments"), 1);

    import_orders(&e, "later.csv", &[("P002", "T1", 1)]);
    e.run(&["ship", "--out", "third.csv"])
        .ok()
        .stderr_has("発送 2: 1 名・1 件（T1 × 1）");
    let text = std::fs::read_to_string(e.path("third.csv")).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines,
        vec![
            "発送番号,参加者番号,氏名,郵便番号,住所,方書,電話番号,景品コード,景品名,数量",
            "2,P002,試験 二郎,100-0001,東京都千代田区千代田1-1,皇居ハイツ101,03-1111-0002,T1,商品券 500円分,1",
        ]
    );
    assert_eq!(
        e.count("SELECT count(*) FROM orders WHERE shipment_id IS NOT NULL"),
        5
    );
}

#[test]
fn reprint_rewrites_an_earlier_list() {
    let e = setup();
    e.run(&["ship", "--out", "list.xlsx"]).ok();
    e.run(&["ship", "--reprint", "1", "--out", "again.xlsx"])
        .ok()
        .stderr_has("元のファイルと同じ内容です");
    assert_eq!(
        std::fs::read(e.path("list.xlsx")).unwrap(),
        std::fs::read(e.path("again.xlsx")).unwrap()
    );
    // Another format of the same shipment; nothing is marked again.
    e.run(&[
        "ship",
        "--reprint",
        "1",
        "--format",
        "yamato-b2",
        "--out",
        "b2.csv",
    ])
    .ok()
    .stderr_has("元の形式（xlsx）とは別の形式");
    assert_eq!(cp932_text(&e.path("b2.csv")).split("\r\n").count(), 5);
    assert_eq!(e.count("SELECT count(*) FROM shipments"), 1);
    assert_eq!(e.count("SELECT count(*) FROM exports"), 3);

    // The roster changed since: the reprint says so.
    e.write(
        "moved.csv",
        "参加者番号,氏名,郵便番号,住所,電話番号,年齢,利用区分\nP001,試験 一郎,160-0023,東京都新宿区西新宿2-2-2,03-1111-0001,40,台紙\n",
    );
    e.run(&["roster", "import", "moved.csv", "--update"]).ok();
    e.run(&["ship", "--reprint", "1", "--out", "moved.xlsx"])
        .ok()
        .stderr_has("元のファイルと内容が違います");

    e.run(&["ship", "--reprint", "9", "--out", "x.xlsx"])
        .refused()
        .stderr_has("発送番号 9 はありません（発送は 1〜1 です）");
    e.run(&["ship", "--reprint", "1", "--dry-run", "--out", "x.xlsx"])
        .usage();
}

#[test]
fn dry_run_changes_nothing() {
    let e = setup();
    e.run(&["ship", "--dry-run", "--format", "yamato-b2", "--out", "b2.csv"])
        .ok()
        .stderr_has("確認のみ (--dry-run): 次の発送（発送番号 1）は 3 名・4 件（G1 × 4、T1 × 1）です。問題はありません");
    assert!(!e.path("b2.csv").exists());
    assert_eq!(e.count("SELECT count(*) FROM shipments"), 0);
    assert_eq!(
        e.count("SELECT count(*) FROM orders WHERE shipment_id IS NOT NULL"),
        0
    );
    assert_eq!(e.count("SELECT count(*) FROM exports"), 0);
    e.run(&["ship", "--out", "list.xlsx"])
        .ok()
        .stderr_has("発送 1:");
}

#[test]
fn carrier_files_refuse_characters_cp932_lacks_and_missing_phones() {
    let e = setup_with(
        PROGRAM_TOML,
        &[("P001", "G1", 1), ("P004", "G1", 1), ("P005", "T1", 1)],
    );
    for format in ["yamato-b2", "yupack"] {
        let out = e
            .run(&["ship", "--format", format, "--out", "carrier.csv"])
            .refused()
            .stderr_has("ファイルは書き出さず、発送済みにもしていません")
            .stderr_has("P004「電話番号」: 電話番号がありません")
            .stderr_has("番号を作らず止めました")
            .stderr_has("(phone.missing)")
            .stderr_has("1 文字目「𠮷」(U+20BB7) は CP932 にない文字で")
            .stderr_has("「🌺」(U+1F33A)")
            .stderr_has("(cp932.unencodable)")
            .stderr;
        assert!(out.contains("P005「お届け先名"), "{out}");
        assert!(!out.contains("P001"), "P001 has nothing wrong: {out}");
        assert!(!e.path("carrier.csv").exists());
    }
    e.run(&["ship", "--dry-run", "--format", "yupack", "--out", "c.csv"])
        .refused()
        .stderr_has("P004「電話番号」");
    assert_eq!(e.count("SELECT count(*) FROM shipments"), 0);
    assert_eq!(
        e.count("SELECT count(*) FROM orders WHERE shipment_id IS NOT NULL"),
        0
    );
    // The shipping list itself takes any character; the missing phone is pointed out.
    e.run(&["ship", "--out", "list.xlsx"])
        .ok()
        .stderr_has("電話番号のない参加者が 1 名います（発送リストの電話番号は空欄です）: P004");
    let sheet = read_xlsx(&e.path("list.xlsx"), "発送リスト");
    assert_eq!(sheet[3][2], "𠮷田 花子");
    assert_eq!(sheet[3][5], "ハイツ🌺202");
}

#[test]
fn carrier_lengths_are_checked_in_cp932_bytes() {
    let e = setup_with(PROGRAM_TOML, &[]);
    e.write(
        "long.csv",
        "参加者番号,氏名,郵便番号,住所,電話番号,年齢,利用区分\n\
         P001,寿限無寿限無五劫の擦り切れ海砂利水魚,160-0022,東京都新宿区新宿1-1-1,03-1111-0001,40,台紙\n",
    );
    e.run(&["roster", "import", "long.csv", "--update"]).ok();
    import_orders(&e, "o.csv", &[("P001", "G1", 1)]);
    e.run(&["ship", "--format", "yamato-b2", "--out", "b2.csv"])
        .refused()
        .stderr_has("P001「お届け先名」: 氏名が 36 バイト（18 文字）あり、この欄の上限 32 バイト（全角 16 文字）を超えます。切り詰めずに止めました")
        .stderr_has("(length.too_long)");
    // ゆうパックプリントR has two 50-byte name lines: the name fits there.
    e.run(&["ship", "--format", "yupack", "--out", "yu.csv"])
        .ok();
    let text = cp932_text(&e.path("yu.csv"));
    assert!(
        text.contains(",寿限無寿限無五劫の擦り切れ海砂利水魚,"),
        "{text}"
    );
}

#[test]
fn the_b2_file_has_the_carrier_columns_and_codes() {
    let e = setup();
    e.run(&["ship", "--format", "yamato-b2", "--out", "b2.csv"])
        .ok()
        .stderr_has("ヤマト B2クラウド取込み用 CSV (CP932)");
    let bytes = std::fs::read(e.path("b2.csv")).unwrap();
    assert!(
        !bytes.starts_with(b"\xEF\xBB\xBF"),
        "no BOM in a carrier file"
    );
    let text = cp932_text(&e.path("b2.csv"));
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "CRLF line ends only"
    );
    let rows: Vec<Vec<&str>> = text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 4, "a header and one row per participant");
    assert!(rows.iter().all(|r| r.len() == 97));
    assert_eq!(
        &rows[0][..3],
        &["お客様管理番号", "送り状種類", "クール区分"]
    );
    let date = e
        .conn()
        .query_row("SELECT substr(created_at,1,10) FROM shipments", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
        .replace('-', "/");
    // P001 ordered two prizes: one parcel, two item lines.
    let p001 = rows.iter().find(|r| r[0] == "1-P001").unwrap();
    assert_eq!(p001[1], "0", "発払い");
    assert_eq!(p001[4], date);
    assert_eq!(p001[8], "03-1111-0001");
    assert_eq!(p001[10], "160-0022");
    assert_eq!(p001[11], "東京都新宿区新宿1-1-1");
    assert_eq!(p001[15], "試験 一郎");
    assert_eq!(p001[17], "様");
    assert_eq!(p001[19], "03-1234-5678");
    assert_eq!(p001[22], "東京都新宿区西新宿1-2-3");
    assert_eq!(
        p001[24], "株式会社テスト",
        "sender name defaults to the contractor"
    );
    assert_eq!((p001[26], p001[27]), ("G1", "歩数計"));
    assert_eq!((p001[28], p001[29]), ("T1", "商品券 500円分"));
    assert_eq!((p001[39], p001[41]), ("012345678901", "01"));
    // The building after the house number goes in its own column.
    let p002 = rows.iter().find(|r| r[0] == "1-P002").unwrap();
    assert_eq!(
        (p002[11], p002[12], p002[27]),
        ("東京都千代田区千代田1-1", "皇居ハイツ101", "歩数計 ×2")
    );
}

#[test]
fn carrier_formats_name_the_program_keys_they_need() {
    let program = PROGRAM_TOML.replace("sender_phone = \"03-1234-5678\"\n", "");
    let e = setup_with(&program, CLEAN);
    e.run(&["ship", "--format", "yupack", "--out", "yu.csv"])
        .refused()
        .stderr_has("プログラムファイルの [shipping] に次の値が必要です: shipping.sender_phone");
    e.run(&["ship", "--format", "yamato-b2", "--out", "yu.xlsx"])
        .usage()
        .stderr_has("--format yamato-b2 の出力ファイルは .csv にしてください");
    e.run(&["ship", "--out", "list.txt"]).usage();
    assert_eq!(e.count("SELECT count(*) FROM shipments"), 0);
}

#[test]
fn a_program_file_with_a_bad_shipping_or_labels_section_is_refused() {
    let e = Env::new();
    let bad = PROGRAM_TOML
        .replace("yamato_freight_no = \"01\"", "yamato_freight_no = \"1\"")
        .replace(
            "sender_postal_code = \"160-0023\"",
            "sender_postal_code = \"16-0023\"",
        )
        .replace("height_mm = 50.0", "height_mm = 60.0");
    e.write("program.toml", &bad);
    e.run(&["init", "--program", "program.toml"])
        .refused()
        .stderr_has("shipping.yamato_freight_no: 運賃管理番号は半角数字 2 桁です")
        .stderr_has("shipping.sender_postal_code:")
        .stderr_has("labels.height_mm: 上余白＋ラベル高さ×行＋間隔が 323.5 mm で、A4 の高さ 297 mm を超えます");
}

/// The text of every non-empty cell of the label sheet, by (row, column) on the sheet.
fn label_cells(e: &Env, name: &str) -> Vec<(usize, usize, String)> {
    use calamine::{open_workbook_auto, Data, Reader};
    let mut wb = open_workbook_auto(e.path(name)).expect("open xlsx");
    let range = wb.worksheet_range("ラベル").expect("sheet");
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let mut out = Vec::new();
    for (r, c, v) in range.used_cells() {
        if let Data::String(s) = v {
            out.push((r + r0 as usize, c + c0 as usize, s.clone()));
        }
    }
    out
}

#[test]
fn shipment_labels_one_per_participant_on_the_sheet() {
    let e = setup();
    e.run(&["ship", "--out", "list.xlsx"]).ok();
    e.run(&["labels", "--shipment", "1", "--out", "labels.xlsx"])
        .ok()
        .stderr_has("ラベル 3 枚（12面 四辺余白付 86.4×42.3 mm、A4 1 枚）");
    let cells = label_cells(&e, "labels.xlsx");
    // a4-12: rows are top margin, then (padding, text, padding) per label; columns
    // the same from the left margin. Sorted by postal code, left to right.
    let at: Vec<(usize, usize)> = cells.iter().map(|(r, c, _)| (*r, *c)).collect();
    assert_eq!(at, vec![(2, 2), (2, 5), (5, 2)]);
    assert_eq!(
        cells[0].2,
        "〒060-0001\n北海道札幌市中央区北一条西2-1\n試験 三郎　様\nP003"
    );
    assert_eq!(
        cells[1].2,
        "〒100-0001\n東京都千代田区千代田1-1\n皇居ハイツ101\n試験 二郎　様\nP002"
    );
    e.run(&[
        "labels",
        "--shipment",
        "1",
        "--start-at",
        "4",
        "--out",
        "used.xlsx",
    ])
    .ok()
    .stderr_has("1 枚目は 4 面目から");
    let at: Vec<(usize, usize)> = label_cells(&e, "used.xlsx")
        .iter()
        .map(|(r, c, _)| (*r, *c))
        .collect();
    assert_eq!(at, vec![(5, 5), (8, 2), (8, 5)]);
    // The program file's own sheet: 2 × 5 labels with the sheet's margins.
    e.run(&[
        "labels",
        "--shipment",
        "1",
        "--layout",
        "my-10",
        "--out",
        "mine.xlsx",
    ])
    .ok()
    .stderr_has("独自の用紙 2×5 面 90×50 mm");
    e.run(&["labels", "--shipment", "1", "--out", "merge.csv"])
        .ok()
        .stderr_has("宛名 3 件を差し込み印刷用 CSV");
    let text = std::fs::read_to_string(e.path("merge.csv")).unwrap();
    assert_eq!(
        text.trim_start_matches('\u{feff}')
            .lines()
            .take(3)
            .collect::<Vec<_>>(),
        vec![
            "参加者番号,郵便番号,住所,方書,氏名,敬称",
            "P003,060-0001,北海道札幌市中央区北一条西2-1,,試験 三郎,様",
            "P002,100-0001,東京都千代田区千代田1-1,皇居ハイツ101,試験 二郎,様",
        ]
    );
    assert_eq!(e.count("SELECT count(*) FROM exports"), 5);
}

#[test]
fn label_options_are_checked() {
    let e = setup();
    e.run(&["labels", "--shipment", "1", "--out", "l.xlsx"])
        .refused()
        .stderr_has("発送番号 1 はありません（まだ発送がありません。先に stepcard ship）");
    e.run(&["ship", "--out", "list.xlsx"]).ok();
    e.run(&[
        "labels",
        "--shipment",
        "1",
        "--start-at",
        "13",
        "--out",
        "l.xlsx",
    ])
    .usage()
    .stderr_has("--start-at は 1〜12 にしてください");
    e.run(&[
        "labels",
        "--shipment",
        "1",
        "--layout",
        "a4-40",
        "--out",
        "l.xlsx",
    ])
    .usage()
    .stderr_has("a4-12、a4-21、a4-24、my-10");
    e.run(&["labels", "--out", "l.xlsx"]).usage();
    e.run(&["labels", "--shipment", "1", "--resend", "--out", "l.xlsx"])
        .usage();
    assert!(!e.path("l.xlsx").exists());
}

/// P002's address made six times 東京都新宿区西新宿二丁目八番一号: five lines on an
/// `a4-24` label, too many; it fits `a4-12`, smaller.
fn give_p002_a_long_address(e: &Env) {
    let long = "東京都新宿区西新宿二丁目八番一号".repeat(6);
    e.write(
        "long.csv",
        &format!(
            "参加者番号,氏名,郵便番号,住所,電話番号,年齢,利用区分\nP002,試験 二郎,160-0023,{long},03-1111-0002,40,台紙\n"
        ),
    );
    e.run(&["roster", "import", "long.csv", "--update"]).ok();
}

#[test]
fn a_label_that_cannot_fit_is_reported_never_cut() {
    let e = setup_with(PROGRAM_TOML, &[]);
    give_p002_a_long_address(&e);
    e.run(&["labels", "--guidance", "--layout", "a4-24", "--out", "g.xlsx"])
        .refused()
        .stderr_has("ラベル 1 枚に文字が収まりません。切り詰めずに止め、ファイルは書き出していません")
        .stderr_has("P002「住所」5 行目: 住所と方書が 5 行になり、参加者番号の 1 行目から下が高さ 27.9 mm のラベルに収まりません")
        .stderr_has("(label.does_not_fit)");
    assert!(!e.path("g.xlsx").exists());
    assert_eq!(e.count("SELECT count(*) FROM guidance_mailed"), 0);
    // The addressees' working table went with the rolled-back transaction.
    assert_eq!(
        e.count("SELECT count(*) FROM sqlite_master WHERE name = 'stepcard_guidance'"),
        0
    );
    // On the larger sheet it fits, smaller.
    e.run(&["labels", "--guidance", "--out", "g.xlsx"])
        .ok()
        .stderr_has("住所が長いため文字を小さくしたラベル: 1 枚");
}

/// The shipment's labels are checked as they stream past, before any file: one that
/// does not fit a PDF sheet stops the run with nothing written and no copy recorded
/// (the PDF itself is drawn as the labels come, not from a list of them all).
#[test]
fn a_shipment_label_that_cannot_fit_stops_the_pdf_before_it_is_written() {
    let e = setup();
    give_p002_a_long_address(&e);
    e.run(&["ship", "--out", "list.xlsx"]).ok();
    let copies =
        |e: &Env| e.count("SELECT count(*) FROM audit_log WHERE detail LIKE '%copy pending%'");
    let before = copies(&e);
    for out in ["l.pdf", "l.xlsx"] {
        e.run(&[
            "labels",
            "--shipment",
            "1",
            "--layout",
            "a4-24",
            "--out",
            out,
        ])
        .refused()
        .stderr_has(
            "ラベル 1 枚に文字が収まりません。切り詰めずに止め、ファイルは書き出していません",
        )
        .stderr_has("P002「住所」5 行目")
        .stderr_has("(label.does_not_fit)");
        assert!(!e.path(out).exists(), "{out}");
    }
    assert_eq!(copies(&e), before, "nothing announced for a refused run");
    e.run(&["labels", "--shipment", "1", "--out", "l.pdf"])
        .ok()
        .stderr_has("ラベル 3 枚")
        .stderr_has("住所が長いため文字を小さくしたラベル: 1 枚");
    let pdf = std::fs::read(e.path("l.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-") && pdf.ends_with(b"%%EOF\n"));
}

#[test]
fn the_guidance_reaches_each_card_participant_once() {
    let e = setup_with(PROGRAM_TOML, &[]);
    e.run(&["labels", "--guidance", "--out", "g1.xlsx"])
        .ok()
        .stderr_has("ラベル 4 枚")
        .stderr_has("参加案内の郵送 1 として 4 名を記録しました");
    let ids: Vec<String> = label_cells(&e, "g1.xlsx")
        .iter()
        .map(|(_, _, t)| t.lines().last().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        vec!["P002", "P001", "P004", "P005"],
        "card participants only, by postal code"
    );
    assert_eq!(
        e.count("SELECT count(*) FROM sqlite_master WHERE name = 'stepcard_guidance'"),
        0,
        "the addressees' working table is dropped before the commit"
    );
    assert_eq!(
        e.count("SELECT count(*) FROM guidance_mailed WHERE mailing_id = 1 AND resend = 0"),
        4
    );
    e.run(&["labels", "--guidance", "--out", "g2.xlsx"])
        .ok()
        .stderr_has("参加案内を送る参加者はいません: 台紙の参加者 4 名のうち 4 名は送付済みです");
    assert!(!e.path("g2.xlsx").exists());

    // A participant registered later gets it on the next run, alone.
    e.write(
        "new.csv",
        "参加者番号,氏名,郵便番号,住所,年齢,利用区分\nP006,試験 六郎,980-0001,宮城県仙台市青葉区中央1-1,40,台紙\n",
    );
    e.run(&["roster", "import", "new.csv"]).ok();
    e.run(&["labels", "--guidance", "--out", "g3.csv"])
        .ok()
        .stderr_has("宛名 1 件");
    let text = std::fs::read_to_string(e.path("g3.csv")).unwrap();
    assert_eq!(text.trim_start_matches('\u{feff}').lines().count(), 2);
    assert!(text.contains("P006,980-0001,宮城県仙台市青葉区中央1-1,,試験 六郎,様"));

    // Named participants: already mailed is refused without --resend; an app user never.
    e.run(&[
        "labels",
        "--guidance",
        "--participant",
        "P001",
        "--out",
        "r.xlsx",
    ])
    .refused()
    .stderr_has("P001: 参加案内は送付済みです（郵送 1、")
    .stderr_has("もう一度送るときは --resend");
    e.run(&[
        "labels",
        "--guidance",
        "--participant",
        "P003",
        "--resend",
        "--out",
        "r.xlsx",
    ])
    .refused()
    .stderr_has("P003: 利用区分が「アプリ」です");
    e.run(&[
        "labels",
        "--guidance",
        "--participant",
        "P001",
        "--resend",
        "--out",
        "r.xlsx",
    ])
    .ok()
    .stderr_has("参加案内の郵送 3 として 1 名を記録しました（うち再送 1 名）");
    assert_eq!(
        e.count("SELECT count(*) FROM guidance_mailed WHERE participant_id='P001'"),
        2
    );
    assert_eq!(
        e.count("SELECT resend FROM guidance_mailed WHERE participant_id='P001' AND mailing_id=3"),
        1
    );
    assert_eq!(e.count("SELECT resend FROM mailings WHERE id=3"), 1);
    assert_eq!(
        e.count("SELECT count(*) FROM guidance_mailed WHERE participant_id='P003'"),
        0
    );
    let detail: String = e
        .conn()
        .query_row(
            "SELECT detail FROM audit_log WHERE command='labels' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(detail.contains("\"resent\":1"), "{detail}");
    assert!(!detail.contains("試験"), "{detail}");
}

#[test]
fn an_orders_batch_that_was_shipped_cannot_be_undone() {
    let e = setup();
    e.run(&["ship", "--out", "list.xlsx"]).ok();
    // Batches: 1 roster, 2 steps, 3 orders.
    e.run(&["batches", "undo", "3"])
        .refused()
        .stderr_has("4 件は発送済みのため、取り消せません");
}

#[test]
fn the_carrier_ship_date_is_today_or_the_one_given_within_thirty_days() {
    let e = setup();
    let at = |now: &str, args: &[&str]| {
        let o = e
            .cmd()
            .env("STEPCARD_NOW", now)
            .args(args)
            .output()
            .unwrap();
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    };
    let now = "2027-03-02T10:00:00+09:00";
    let b2 = [
        "ship",
        "--format",
        "yamato-b2",
        "--out",
        "b2.csv",
        "--ship-date",
    ];
    // Yesterday and 31 days ahead: B2 would refuse them (ES003001); nothing written.
    for d in ["2027-03-01", "2027-04-02"] {
        let mut args = b2.to_vec();
        args.push(d);
        at(now, &args).usage().stderr_has("ES003001");
        assert!(!e.path("b2.csv").exists());
    }
    assert_eq!(e.count("SELECT count(*) FROM shipments"), 0);
    let mut args = b2.to_vec();
    args.push("2027-04-01");
    at(now, &args).ok();
    let date_of = |name: &str| -> String {
        let text = cp932_text(&e.path(name));
        text.split("\r\n")
            .nth(1)
            .unwrap()
            .split(',')
            .nth(4)
            .unwrap()
            .to_string()
    };
    assert_eq!(date_of("b2.csv"), "2027/04/01");
    // A reprint the next day carries that day, not the shipment's.
    at(
        "2027-03-03T09:00:00+09:00",
        &["ship", "--reprint", "1", "--out", "again.csv"],
    )
    .ok()
    .stderr_has("出荷予定日を 2027-03-03");
    assert_eq!(date_of("again.csv"), "2027/03/03");
    at(
        "2027-03-03T09:00:00+09:00",
        &[
            "ship",
            "--reprint",
            "1",
            "--out",
            "x.csv",
            "--ship-date",
            "2027-03-02",
        ],
    )
    .usage();
    assert!(!e.path("x.csv").exists());
}

#[test]
fn a_calibration_sheet_outlines_the_layout_and_names_no_one() {
    let e = setup();
    e.run(&[
        "labels",
        "--calibrate",
        "--layout",
        "a4-24",
        "--out",
        "cal.xlsx",
    ])
    .ok()
    .stderr_has("調整用シート");
    let rows = read_xlsx(&e.path("cal.xlsx"), "ラベル");
    let cells: Vec<&String> = rows.iter().flatten().filter(|c| !c.is_empty()).collect();
    assert_eq!(cells.len(), 24);
    assert!(cells[0].contains("a4-24  1列 1行"), "{}", cells[0]);
    assert!(cells[0].contains("66.0×33.9 mm"));
    assert!(cells[0].contains("左 6.0 mm・上 12.9 mm"));
    assert!(cells.iter().all(|c| !c.contains("試験")));
    // Nothing is recorded as mailed.
    assert_eq!(e.count("SELECT count(*) FROM guidance_mailed"), 0);
    e.run(&["labels", "--calibrate", "--out", "cal.csv"])
        .usage();
    e.run(&["labels", "--help"])
        .ok()
        .stdout_has("ヒサゴ ELM012 と互換品")
        .stdout_has("エーワン 31538");
}

#[test]
fn labels_beyond_one_workbook_are_split_into_numbered_files() {
    // One label a sheet: one .xlsx holds 1,024 (Excel's page-break limit).
    let program = PROGRAM_TOML
        .replace("layout = \"my-10\"", "layout = \"big-1\"")
        .replace(
            "cols = 2\nrows = 5\nwidth_mm = 90.0\nheight_mm = 50.0",
            "cols = 1\nrows = 1\nwidth_mm = 180.0\nheight_mm = 120.0",
        );
    let e = setup_with(&program, &[]);
    let mut roster = String::from("参加者番号,氏名,郵便番号,住所,年齢,利用区分\n");
    for i in 0..1025 {
        roster.push_str(&format!(
            "Q{i:04},試験 {i},160-0023,東京都新宿区西新宿{i},40,台紙\n"
        ));
    }
    e.write("more.csv", &roster);
    e.run(&["roster", "import", "more.csv"]).ok();
    e.run(&[
        "labels",
        "--guidance",
        "--layout",
        "big-1",
        "--start-at",
        "1",
        "--out",
        "g.xlsx",
    ])
    .ok()
    .stderr_has("ラベル 1029 枚")
    .stderr_has("2 ファイルに分けました")
    .stderr_has("g-1.xlsx（1〜1024 枚目）")
    .stderr_has("g-2.xlsx（1025〜1029 枚目）");
    assert!(!e.path("g.xlsx").exists());
    assert!(e.path("g-1.xlsx").exists() && e.path("g-2.xlsx").exists());
    assert_eq!(e.count("SELECT count(*) FROM guidance_mailed"), 1029);
    // Both files are recorded as copies, each settled with its own hash.
    let copies = e.count(
        "SELECT count(DISTINCT sha256) FROM exports WHERE path LIKE '%g-1.xlsx' OR path LIKE '%g-2.xlsx'",
    );
    assert_eq!(copies, 2, "both files are recorded as copies");
}

/// `ship`, `ship --reprint` and `labels --shipment` read the shipment in postal order
/// through a sort table inside a savepoint that is rolled back: none is ever left in
/// the database, whether the command succeeds, is a dry run or is refused.
#[test]
fn the_shipment_sort_tables_never_stay_in_the_database() {
    let e = setup();
    let sort_tables =
        || e.count("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'stepcard_%sort%'");
    e.run(&["ship", "--dry-run", "--out", "list.xlsx"]).ok();
    assert_eq!(sort_tables(), 0);
    e.run(&["ship", "--out", "list.xlsx"]).ok();
    assert_eq!(sort_tables(), 0);
    assert_eq!(
        e.count("SELECT count(*) FROM orders WHERE shipment_id = 1"),
        e.count("SELECT count(*) FROM orders WHERE status = 'accepted'")
    );
    e.run(&["ship", "--reprint", "1", "--out", "again.xlsx"])
        .ok()
        .stderr_has("元のファイルと同じ内容です");
    e.run(&["labels", "--shipment", "1", "--out", "labels.xlsx"])
        .ok();
    assert_eq!(sort_tables(), 0);
    // Nothing left to ship: the sort is empty and goes all the same.
    e.run(&["ship", "--out", "list2.xlsx"])
        .ok()
        .stderr_has("発送する申込みはありません");
    assert_eq!(sort_tables(), 0);
}

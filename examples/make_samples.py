#!/usr/bin/env python3
"""Regenerate the sample sheets in examples/ (used by `stepcard demo` and the README).

Starts from ../shared/tools/gen_data.py output and dresses it the way operators'
files really look: CP932 with title rows, month sheets with date-typed 年月 cells,
full-width digits, thousands separators, era dates. Needs `pip install xlsxwriter`.

    python3 examples/make_samples.py GEN_DIR examples/
where GEN_DIR came from
    python3 ../shared/tools/gen_data.py -n 60 --start 2025-05-14 --end 2025-09-30 \
        --seed 7 --out GEN_DIR --card-paper-only
"""
import csv, datetime as dt, os, sys
import xlsxwriter

src, out = sys.argv[1], sys.argv[2]
FW = str.maketrans("0123456789,", "０１２３４５６７８９，")

roster = list(csv.reader(open(os.path.join(src, "roster.csv"), encoding="utf-8")))
head, rows = roster[0], roster[1:]
with open(os.path.join(out, "roster.csv"), "w", encoding="cp932", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["令和7年度 しんじゅく健康ポイント（台紙） 登録者名簿"])
    w.writerow(["作成日", "令和7年5月10日"])
    w.writerow([])
    w.writerow(head)
    for i, r in enumerate(rows):
        r = list(r)
        if i % 5 == 0:
            r[3] = r[3].replace("-", "").translate(FW)      # 郵便番号 1600022 full-width
        if i % 7 == 0 and r[5]:
            y, m, d = map(int, r[5].split("-"))            # 生年月日 as an era date
            if dt.date(y, m, d) >= dt.date(1989, 1, 8):
                r[5] = f"H{y - 1988}.{m}.{d}"
            elif dt.date(y, m, d) >= dt.date(1926, 12, 25):
                r[5] = f"昭和{y - 1925}年{m}月{d}日"
        w.writerow(r)

card = list(csv.reader(open(os.path.join(src, "steps_card.csv"), encoding="utf-8")))
months = sorted({r[1] for r in card[1:]})
wb = xlsxwriter.Workbook(os.path.join(out, "steps_card.xlsx"))
ym_fmt = wb.add_format({"num_format": 'yyyy"年"m"月"'})
title = wb.add_format({"bold": True, "font_size": 14})
for ym in months:
    y, m = map(int, ym.split("-"))
    ws = wb.add_worksheet(f"{m}月")
    ws.write(0, 0, f"しんじゅく健康ポイント 歩数記録（台紙） 令和{y - 2018}年{m}月分", title)
    ws.write_row(2, 0, ["参加者番号", "年月"] + [f"{d}日" for d in range(1, 32)])
    r = 3
    for row in card[1:]:
        if row[1] != ym:
            continue
        ws.write_string(r, 0, row[0])
        ws.write_datetime(r, 1, dt.datetime(y, m, 1), ym_fmt)
        for d in range(1, 32):
            v = row[1 + d]
            if not v:
                continue
            n = int(v)
            k = (r * 31 + d) % 23
            if k == 0:
                ws.write_string(r, 1 + d, f"{n:,}".translate(FW))   # ８，０００ keyed as text
            elif k == 1:
                ws.write_string(r, 1 + d, f"{n:,}")                 # 8,000 as text
            elif k == 2:
                ws.write_number(r, 1 + d, float(n))                 # 8000.0 as a float
            else:
                ws.write_number(r, 1 + d, n)
        r += 1
wb.close()

app = {r[0] for r in rows if r[8] == "アプリ"}
longrows = list(csv.reader(open(os.path.join(src, "steps_long.csv"), encoding="utf-8")))
with open(os.path.join(out, "steps_long.csv"), "w", encoding="utf-8-sig", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["アプリ連携分 歩数（令和7年度）"])
    w.writerow(longrows[0])
    for i, r in enumerate(x for x in longrows[1:] if x[0] in app):
        y, m, d = map(int, r[1].split("-"))
        if i % 9 == 0:
            r[1] = f"R{y - 2018}.{m}.{d}"
        elif i % 9 == 1:
            r[1] = f"令和{y - 2018}年{m}月{d}日"
        elif i % 9 == 2:
            r[1] = f"{y}/{m}/{d}"
        w.writerow(r)

with open(os.path.join(out, "steps_bad.csv"), "w", encoding="cp932", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["参加者番号", "日付", "歩数"])
    first = sorted(app)[0]
    w.writerows([
        [first, "2025-10-01", "7500"],          # fine
        ["Z999999", "2025-10-02", "6000"],      # participant.unknown
        [first, "2025-06-31", "6000"],          # date.nonexistent
        [first, "2025-04-01", "6000"],          # date.out_of_period
        [first, "2025-10-03", "-300"],          # steps.negative
        [first, "2025-10-04", "123456"],        # steps.implausible
        [first, "2025-10-05", "八千"],          # steps.not_a_number
        [first, "2025-10-06", "5000"],
        [first, "2025-10-06", "5800"],          # steps.duplicate_conflict
    ])

#!/usr/bin/env python3
"""Regenerate the double-entry verification samples in examples/ (used by `stepcard demo`
and the README's ベリファイ section). Needs `pip install xlsxwriter`.

    python3 examples/make_verify_samples.py examples/

The same October 2025 cards of five card participants, keyed twice:
  steps_verify_a.csv        1回目: long layout, CP932 with a title row, dates keyed in
                            several forms (2025/10/1, R7.10.4, 令和7年10月7日), some
                            figures keyed full-width or with a thousands separator.
  steps_verify_b.xlsx       2回目: card layout (one row per card, 1日..31日), some
                            figures keyed as text; C000005's 10/14 keyed 8530 where the
                            card says 8350 (a transposition: the one real discrepancy).
  steps_verify_b_fixed.xlsx the second keying after the reviewer corrected that cell.
"""
import csv, datetime as dt, os, random, sys
import xlsxwriter

out = sys.argv[1]
FW = str.maketrans("0123456789,", "０１２３４５６７８９，")
PEOPLE = ["C000001", "C000004", "C000005", "C000006", "C000007"]
Y, M = 2025, 10
rng = random.Random(20251031)

# The paper cards: steps per participant per day; a few days left blank on the card.
cards = {}
for p in PEOPLE:
    base = rng.randint(4000, 9000)
    days = {}
    for d in range(1, 32):
        if rng.random() < 0.08:
            continue
        v = max(0, int(rng.gauss(base, base * 0.3)))
        days[d] = round(v, -1) if rng.random() < 0.5 else v
    cards[p] = days
cards["C000005"][14] = 8350  # the day the second operator transposes

with open(os.path.join(out, "steps_verify_a.csv"), "w", encoding="cp932", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["令和7年10月分 歩数 1回目入力（入力者: 佐藤）"])
    w.writerow(["参加者番号", "日付", "歩数"])
    i = 0
    for p in PEOPLE:
        for d, v in sorted(cards[p].items()):
            i += 1
            date = f"{Y}/{M}/{d}"
            if i % 11 == 0:
                date = f"R{Y - 2018}.{M}.{d}"
            elif i % 13 == 0:
                date = f"令和{Y - 2018}年{M}月{d}日"
            steps = str(v)
            if i % 9 == 0:
                steps = f"{v:,}".translate(FW)        # ８，３５０
            elif i % 7 == 0:
                steps = f"{v:,}"                      # 8,350
            w.writerow([p, date, steps])


def card_book(name, fixed):
    wb = xlsxwriter.Workbook(os.path.join(out, name))
    wb.set_properties({"created": dt.datetime(2025, 11, 4, 9, 0, 0), "author": "stepcard sample"})
    title = wb.add_format({"bold": True, "font_size": 14})
    ws = wb.add_worksheet(f"{M}月")
    ws.write(0, 0, f"しんじゅく健康ポイント 歩数記録（台紙） 令和{Y - 2018}年{M}月分 2回目入力（入力者: 鈴木）", title)
    ws.write_row(2, 0, ["参加者番号", "年月"] + [f"{d}日" for d in range(1, 32)])
    for r, p in enumerate(PEOPLE, start=3):
        ws.write_string(r, 0, p)
        ws.write_string(r, 1, f"令和{Y - 2018}年{M}月")
        for d, v in cards[p].items():
            if p == "C000005" and d == 14 and not fixed:
                v = 8530
            if (r + d) % 10 == 0:
                ws.write_string(r, 1 + d, str(v).translate(FW))   # ８３５０ keyed as text
            else:
                ws.write_number(r, 1 + d, v)
    ws.set_column(2, 32, 6.5)
    wb.close()


card_book("steps_verify_b.xlsx", fixed=False)
card_book("steps_verify_b_fixed.xlsx", fixed=True)

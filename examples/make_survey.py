#!/usr/bin/env python3
"""Regenerate examples/survey.csv: the sample questionnaire answers (事前・事後アンケート)
used by `stepcard demo`, keyed the way operators key paper questionnaires.

Reads the participants from examples/roster.csv (CP932, title rows) and writes CP932
with a title row, 事前 answers from most participants and 事後 answers from fewer,
a little movement for the better between the two, answers keyed as numbers or words,
some full-width digits, and a few questions left blank. Deterministic (seeded).

    python3 examples/make_survey.py examples/
"""
import csv, os, random, sys

out = sys.argv[1] if len(sys.argv) > 1 else "examples"
rng = random.Random(20250514)
FW = str.maketrans("0123456789", "０１２３４５６７８９")

with open(os.path.join(out, "roster.csv"), encoding="cp932", newline="") as f:
    rows = list(csv.reader(f))
head = next(i for i, r in enumerate(rows) if r and r[0] == "参加者番号")
ids = [r[0] for r in rows[head + 1:] if r and r[0]]

CHOICES = ["ほぼ毎日", "週に3〜4日", "週に1〜2日", "ほとんど外出しない"]

def clamp(v, lo, hi):
    return max(lo, min(hi, v))

people = {}
for pid in ids:
    walk = rng.choice([2, 2, 3, 3, 3, 4, 4, 4, 5, 1])
    health = rng.choice([2, 3, 3, 3, 4, 4, 4, 5])
    exercise = rng.random() < 0.4
    out_days = rng.choice([0, 0, 1, 1, 1, 2, 2, 3])
    people[pid] = (walk, health, exercise, out_days)

lines = []
pre = [p for p in ids if rng.random() < 0.92]
post = [p for p in pre if rng.random() < 0.85]
for timing, who in (("事前", pre), ("事後", post)):
    for pid in who:
        walk, health, exercise, out_days = people[pid]
        if timing == "事後":
            walk = clamp(walk + rng.choice([0, 0, 1, 1, 1, 2, -1]), 1, 5)
            health = clamp(health + rng.choice([0, 0, 0, 1, -1]), 1, 5)
            exercise = exercise or rng.random() < 0.25
            out_days = clamp(out_days - rng.choice([0, 0, 1]), 0, 3)
        q1 = str(walk)
        if rng.random() < 0.2:
            q1 = q1.translate(FW)                      # full-width digit
        q2 = ("はい" if exercise else "いいえ") if rng.random() < 0.7 else ("1" if exercise else "2")
        q3 = CHOICES[out_days] if rng.random() < 0.5 else str(out_days + 1)
        q4 = str(health)
        if rng.random() < 0.05:
            q4 = ""                                    # left blank on the paper
        lines.append([pid, timing, q1, q2, q3, q4])

with open(os.path.join(out, "survey.csv"), "w", encoding="cp932", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["令和7年度 しんじゅく健康ポイント 参加者アンケート（事前・事後）"])
    w.writerow(["参加者番号", "回答時期", "Q1", "Q2", "Q3", "Q4"])
    w.writerows(lines)
print(f"survey.csv: {len(pre)} 事前, {len(post)} 事後")

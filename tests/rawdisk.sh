#!/usr/bin/env bash
# The raw-disk test (issue 15): does anything of the participants survive on the disk
# itself after a close-out, where no file-level scan looks (freed blocks, the ext4
# journal, old WAL pages)?
#
# A 64 MiB ext4 file system in a file is mounted through a loop device; the pipeline
# runs inside it (database, copied input sheets, exports), the return folder outside it;
# `close-out --erase-inputs --erase-exports` ends it; the image is unmounted and its raw
# bytes searched for every participant number, name (UTF-8 and CP932, with full-width,
# half-width or no space) and phone number of the sample roster. Run twice: with the
# database encrypted (must be 0 hits) and, for comparison, with encryption switched off
# (the tests' hidden switch), whose count is printed but not judged.
#
#   sudo tests/rawdisk.sh [path/to/stepcard]     (default: target/release/stepcard)
#
# Needs root, losetup, mkfs.ext4 and python3; where any is missing it prints why and
# exits 0 (skipped). Exit 1 only when the encrypted run leaves a hit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${1:-$ROOT/target/release/stepcard}

skip() { echo "rawdisk: skipped: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root to mount a loop device"
for t in losetup mkfs.ext4 mount umount python3; do
  command -v "$t" >/dev/null || skip "$t not found"
done
[ -e /dev/loop-control ] || skip "no loop devices (/dev/loop-control)"
[ -x "$BIN" ] || skip "$BIN not built (cargo build --release)"
BIN=$(realpath "$BIN")

WORK=$(mktemp -d /tmp/stepcard-rawdisk.XXXXXX)
MNT=$WORK/mnt
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && umount "$MNT" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# One run: $1 = label, $2 = "plain" to switch encryption off, $3 = mount options.
# Writes "hits values" to $WORK/$1.result.
run_case() {
  local label=$1 mode=$2 opts=$3 img=$WORK/$1.img ret=$WORK/$1-return
  truncate -s 64M "$img"
  mkfs.ext4 -q -F "$img" >/dev/null
  mkdir -p "$MNT" "$ret"
  mount -o "loop,$opts" "$img" "$MNT" 2>/dev/null || { echo "rawdisk: skipped: cannot mount a loop device"; exit 0; }
  mkdir -p "$MNT/data/input"
  cp examples/program.toml examples/roster.csv examples/steps_card.xlsx examples/steps_long.csv \
    examples/orders.csv "$MNT/data/input/"
  printf 'rawdisk-test-password\n' > "$WORK/pw" && chmod 600 "$WORK/pw"
  (
    cd "$MNT/data"
    export STEPCARD_DB=$MNT/data/stepcard.db STEPCARD_OPERATOR="山田 太郎" \
      STEPCARD_PASSWORD_FILE=$WORK/pw STEPCARD_NOW=2026-03-31T12:00:00+09:00
    if [ "$mode" = plain ]; then export STEPCARD_TEST_NO_ENCRYPTION=1; fi
    # Each command's writes are forced to the disk before the next (as the kernel's
    # writeback would over a working day), so freed blocks hold what was written.
    q() { "$BIN" --quiet "$@" >/dev/null; sync; }
    q init --program input/program.toml
    q roster import input/roster.csv
    q steps import input/steps_card.xlsx --all-sheets
    q steps import input/steps_long.csv
    q orders import input/orders.csv
    q points --out points.xlsx
    q roster export --out roster_export.csv
    q ship --out shipping.xlsx
    q labels --shipment 1 --out labels.xlsx
    q audit --out handling.xlsx
    q close-out --return-dir "$ret" --confirm R7-健-0123 --erase-inputs --erase-exports
  )
  sync
  umount "$MNT"
  python3 - "$img" > "$WORK/$label.result" <<'PY'
import csv, io, sys
raw = open("examples/roster.csv", "rb").read()
text = raw.decode("cp932")
rows = list(csv.reader(io.StringIO(text)))
head = next(i for i, r in enumerate(rows) if r and r[0] == "参加者番号")
cols = rows[head]
values = set()
for r in rows[head + 1:]:
    if len(r) < len(cols):
        continue
    d = dict(zip(cols, r))
    values.add(d["参加者番号"])
    name = d["氏名"]
    for sep in ("\u3000", " ", ""):
        values.add(name.replace("\u3000", sep).replace(" ", sep))
    phone = d["電話番号"]
    if phone:
        values.add(phone)
        values.add(phone.replace("-", ""))
values = {v for v in values if len(v.encode("utf-8")) >= 4}
disk = open(sys.argv[1], "rb").read()
hits = 0
for v in values:
    forms = {v.encode("utf-8")}
    try:
        forms.add(v.encode("cp932"))
    except UnicodeEncodeError:
        pass
    for f in forms:
        hits += disk.count(f)
print(f"{hits} {len(values)}")
PY
  rm -f "$img"
}

# ext4's default (data=ordered: file data written in place, only metadata journalled)
# and data=journal (every data block also goes through the journal first, as the
# journal of some file systems and the FTL of an SSD keep old copies).
failed=0
for opts in data=ordered data=journal; do
  run_case "encrypted-$opts" on "$opts"
  run_case "plain-$opts" plain "$opts"
  read -r enc_hits values < "$WORK/encrypted-$opts.result"
  read -r plain_hits _ < "$WORK/plain-$opts.result"
  echo "rawdisk: ext4 $opts: $values values searched; encrypted database: $enc_hits hits; encryption switched off (comparison): $plain_hits hits"
  [ "$enc_hits" = 0 ] || failed=1
done
if [ "$failed" != 0 ]; then
  echo "rawdisk: FAILED: the encrypted run left participants' values on the raw disk"
  exit 1
fi
echo "rawdisk: ok"

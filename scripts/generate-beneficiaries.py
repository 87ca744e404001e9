#!/usr/bin/env python3
"""Writes a beneficiary CSV for the registry's import benchmark and for trying
imports by hand:

    scripts/generate-beneficiaries.py ROWS OUT.csv [--households]

Rows are deterministic (the same ROWS give the same file). Each person has a
unique ID and national ID (8 digits), most a phone (E.164, Kenya), a site of
50, and channels: mobile money for most, an IBAN (valid check digits) for
some, cash at the site for the rest. With --households, people come in
households of 1 to 6 with one head each.
"""
import csv
import random
import sys

FIRST = ["Amina", "Baraka", "Chiku", "Dalia", "Eli", "Fatma", "Gift", "Halima", "Imani", "Juma",
         "Kamau", "Lulu", "Mwangi", "Neema", "Otieno", "Pendo", "Rehema", "Saida", "Tumaini", "Wanjiru"]
LAST = ["Achieng", "Barasa", "Chege", "Kariuki", "Kiprono", "Mutua", "Njeri", "Ochieng", "Odhiambo",
        "Wafula", "Wambui", "Yego"]


def iban(rng):
    """A German IBAN (22 characters) with correct check digits."""
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    digits = bban + "1314" + "00"  # D=13, E=14, then 00 for the check digits
    check = 98 - int(digits) % 97
    return f"DE{check:02d}{bban}"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows = int(sys.argv[1])
    out = sys.argv[2]
    households = "--households" in sys.argv[3:]
    rng = random.Random(rows)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["beneficiary_id", "name", "national_id", "phone", "household", "household_role",
                    "site", "iban", "mobile_operator", "channels"])
        household, left = 0, 0
        for i in range(rows):
            role = ""
            if households:
                if left == 0:
                    household += 1
                    left = rng.randint(1, 6)
                    role = "head"
                else:
                    role = "member"
                left -= 1
            kind = rng.random()
            phone = f"+2547{10_000_000 + i:08d}" if kind < 0.9 else ""
            account = iban(rng) if 0.6 <= kind < 0.8 else ""
            operator = "mpesa" if phone and kind < 0.6 else ""
            channels = "mobile;cash" if operator else ("bank;cash" if account else "cash")
            w.writerow([
                f"B-{i:07d}",
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                f"{20_000_000 + i:08d}",
                phone,
                f"H-{household:07d}" if households else "",
                role,
                f"site-{i % 50 + 1}",
                account,
                operator,
                channels,
            ])


if __name__ == "__main__":
    main()

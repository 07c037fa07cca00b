#!/usr/bin/env python3
"""Writes Tests/CAPICoreTests/Vectors/libphonenumber-e164.jsonl: phone numbers as people write them,
with the E.164 digits libphonenumber reads them as.

    pip install phonenumbers && python3 scripts/generate_phone_vectors.py

For every region and number type libphonenumber has an example of: the national format with the
region as the event's country, the same written after `+<calling code>` (trunk prefix kept, as
people do), and with `00` and digits only. For the Caribbean's +1 regions also the seven-digit local
number, which gains its area code. Numbers shorter than E.164's seven digits are left out (the
connector refuses them), and so are the regions whose codes are not ISO 3166-1 countries (AC, TA,
XK). Use the same phonenumbers version as scripts/generate_reference_tables.py.
"""
import json
import os
import re

import phonenumbers as pn
from phonenumbers import PhoneNumberFormat as F
from phonenumbers import PhoneNumberType as T

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "CAPICoreTests", "Vectors", "libphonenumber-e164.jsonl")
TYPES = {T.FIXED_LINE: "fixed line", T.MOBILE: "mobile", T.TOLL_FREE: "toll free", T.PREMIUM_RATE: "premium rate",
         T.SHARED_COST: "shared cost", T.VOIP: "VoIP", T.PERSONAL_NUMBER: "personal number", T.PAGER: "pager",
         T.UAN: "UAN", T.VOICEMAIL: "voicemail"}

rows = []


def add(text, region, description, read_as=None):
    want = pn.format_number(pn.parse(read_as or text, region), F.E164)[1:]
    if len(want) < 7:
        return
    row = {"value": text, "normalized": want, "case": description}
    if region:
        row["country"] = region.lower()
    rows.append(row)


for region in sorted(pn.SUPPORTED_REGIONS):
    if region in ("AC", "TA", "XK"):
        continue
    for number_type, name in TYPES.items():
        number = pn.example_number_for_type(region, number_type)
        if number is None:
            continue
        national = pn.format_number(number, F.NATIONAL)
        digits = "".join(c for c in national if c.isdigit())
        add(national, region, f"{region} {name}, national format")
        add(f"+{number.country_code} {national}", None, f"{region} {name}, national format after +{number.country_code}")
        # libphonenumber reads `00` only with a region to dial from; it means what `+` does.
        add(f"00{number.country_code}{digits}", None, f"{region} {name}, 00 and the national digits",
            read_as=f"+{number.country_code}{digits}")
    metadata = pn.PhoneMetadata.metadata_for_region(region)
    if metadata.country_code == 1 and metadata.national_prefix_transform_rule:
        local = str(pn.example_number_for_type(region, T.FIXED_LINE).national_number)[3:]
        add(local, region, f"{region} seven-digit local number")

# Foreign numbers dialled from a region whose international prefix is more than `00`, written with
# that prefix: every prefix of up to four digits its pattern takes (and its preferred one), before
# a UK, a US and a Japanese number. Where libphonenumber reads a prefix as something else (a 0 after
# it, a carrier code it cannot tell apart), the row is left out rather than guessed.
FOREIGN = [pn.example_number_for_type(r, T.FIXED_LINE) for r in ("GB", "US")] + [pn.example_number_for_type("JP", T.MOBILE)]
for region in sorted(pn.SUPPORTED_REGIONS):
    metadata = pn.PhoneMetadata.metadata_for_region(region)
    idd = metadata.international_prefix
    if region in ("AC", "TA", "XK") or not idd or idd == "00":
        continue
    pattern = re.compile(idd)
    prefixes = {str(n).zfill(width) for width in range(1, 5) for n in range(10 ** width)}
    prefixes = sorted(p for p in prefixes if pattern.fullmatch(p) and p != "00")
    preferred = (metadata.preferred_international_prefix or "").replace("~", "")
    if preferred.isdigit() and preferred not in prefixes:
        prefixes.append(preferred)
    for prefix in prefixes[:6]:
        for number in FOREIGN:
            if number.country_code == metadata.country_code:
                continue
            digits = str(number.national_number)
            text = f"{prefix} {number.country_code} {digits}"
            want = pn.format_number(number, F.E164)[1:]
            if pn.format_number(pn.parse(text, region), F.E164)[1:] == want:
                add(text, region, f"{region} dialling +{number.country_code} with its international prefix {prefix}")

with open(OUT, "w", encoding="utf-8") as f:
    for row in rows:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
print(f"{len(rows)} rows from phonenumbers {pn.__version__}")

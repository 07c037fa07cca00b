"""Seeded random customer information, normalized by Meta's SDK, for parity with `capi-connector normalize`.

Prints one JSON object per line: {"field", "value", "sdk"}, where "sdk" is the SDK's normalized text.
Only rows whose SDK output is already in the documented canonical form are printed; where the SDK
does less than Meta's documented rules (docs/normalization.md), the project follows the docs:
- an email with white space inside it is refused, the SDK keeps it;
- names lose their punctuation, the SDK keeps it (and cuts the first five characters before that);
- cities and regions keep letters and marks only, the SDK removes only digits, dots, white space,
  - ( and ); the docs map a US state's name to its code;
- a postcode keeps what follows a dash, the SDK cuts there;
- a value that is empty after trimming is dropped, the SDK answers "";
- phone numbers are generated only in the shape both treat alike (see `phone`).

usage: meta_sdk_normalize.py SEED COUNT
"""
import json
import random
import sys
import unicodedata

from facebook_business.adobjects.serverside.normalize import Normalize

seed, count = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)

# Characters the rules turn on: Python's white space (and two that are not), prepended
# concatenation marks, combining marks, the final-sigma context, case mappings that change length
# or script (İ, ẞ, ﬁ, Ǆ, Cherokee, Georgian Mtavruli, Deseret, Vithkuqi, Adlam), punctuation of
# several scripts, and letters of one, two, three and four bytes of UTF-8.
POOL = list("aZk09 .-'@_") + [
    "\t", "\u000b", "\u001c", "\u0085", "\u00a0", "\u1680", "\u2003", "\u2028", "\u3000", "\u200b", "\ufeff",
    "\u0600", "\u06dd", "\u070f", "\u08e2", "\U000110bd", "\u0301", "\u0307", "\u0308", "\u0345", "\u200d",
    "Σ", "σ", "ς", "Α", "ά", "ΐ", "İ", "ı", "I", "ß", "ẞ", "ﬁ", "Ǆ", "ǅ", "ǆ", "ǰ", "ŉ", "Ꭰ", "ꭰ", "Ᏸ", "Ა", "ა",
    "Ω", "Ω", "K", "Å", "Å", "Ⱥ", "ⱥ", "Ȿ", "ɀ", "Ꞵ", "ꞵ", "\ua7c0", "\ua7c1", "\u2160", "\u24b6",
    "\U00010400", "\U00010428", "\U00010570", "\U00010597", "\U0001e900",
    "é", "É", "Ł", "Ж", "ё", "א", "م", "ً", "李", "😀", "·", "¿", "«", "©", "°", "µ", "ª", "։", "،", "\u2019", "\u2010",
    "\u00ad", "\u180e",
]
FIELDS = ["em", "fn", "ln", "f5first", "f5last", "fi", "ct", "st", "zp", "ph"]
# Regions and postcodes: letters, digits and the characters the rules remove or keep. No full US
# state name is likely from these, which the docs map to its code and the SDK does not.
REGION_POOL = list("abnyxz. -()019") + ["\t", "\u00a0", "\u2003", "\u3000", "\u0085", "é", "Ö", "ß", "İ", "Σ", "\u0301", "\u0600", "Ж", "ł"]
POSTCODE_POOL = list("0123456789abcXYZ ") + ["\t", "\u00a0", "\u2003", "\u3000", "\u0085", "\u001c", "é", "ß", "İ", "\u0301"]
# International numbers whose national part has no national prefix, which the docs and the SDK
# treat alike: a `+`, `00` or `+00` prefix, a calling code, digit groups between separators (white
# space of several kinds, dashes, parentheses).
CALLING_CODES = ["1", "7", "33", "39", "44", "49", "55", "81", "86", "91", "353", "880", "971"]
# Where a national part may start with its country's national prefix, which the connector takes
# off as libphonenumber does and the SDK keeps: a trunk 1 after +1, 8 after +7, Brazil's 90 and
# China's carrier prefixes 11, 12 and 179.
NATIONAL_PREFIXES = {"1": ("1",), "7": ("8",), "55": ("90",), "86": ("11", "12", "179")}
SEPARATORS = [" ", "-", "(", ")", "", "\u00a0", "\u2003", "\u3000", "\t"]


def phone():
    # Each group starts with a non-zero digit: a `(0)` or a trunk 0 is where the docs and the SDK part.
    code = rng.choice(CALLING_CODES)
    while True:
        groups = [str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 3))) for _ in range(rng.randint(2, 4))]
        if not "".join(groups).startswith(NATIONAL_PREFIXES.get(code, ())):
            break
    body = "".join(rng.choice(SEPARATORS) + group for group in groups)
    return rng.choice(["+", "00", "+00", " +"]) + code + body + rng.choice(["", " ", "\u00a0"])



def has_punctuation(text):
    return any(unicodedata.category(c).startswith("P") for c in text)


def comparable(field, value, sdk):
    if not sdk:
        return False
    if len(sdk) == 64 and all(c in "0123456789abcdef" for c in sdk):
        return False
    if field == "em":
        return not any(c.isspace() for c in sdk)
    if field in ("f5first", "f5last", "fi"):
        return not has_punctuation(value)
    if field in ("fn", "ln"):
        return not has_punctuation(sdk)
    if field == "ct":
        return all(unicodedata.category(c)[0] in "LM" for c in sdk)
    if field == "st":
        return all(unicodedata.category(c)[0] in "LM" for c in sdk)
    if field == "zp":
        # A dash is where they part: the SDK cuts there, the docs join both halves.
        return "-" not in value and all(c in "0123456789abcdefghijklmnopqrstuvwxyz" for c in sdk)
    if field == "ph":
        return sdk.isascii() and sdk.isdigit() and 7 <= len(sdk) <= 15
    return True


printed = 0
while printed < count:
    field = rng.choice(FIELDS)
    pool = {"st": REGION_POOL, "zp": POSTCODE_POOL}.get(field, POOL)
    value = phone() if field == "ph" else "".join(rng.choice(pool) for _ in range(rng.randint(1, 10)))
    if field == "em":
        value += rng.choice(["@ex.com", "@EX.CO", "a@b.c" + rng.choice(POOL)])
    try:
        sdk = Normalize.normalize_field_skip_hashing(field, value)
    except Exception:
        continue
    if comparable(field, value, sdk):
        print(json.dumps({"field": field, "value": value, "sdk": sdk}))
        printed += 1

"""Personal-data detectors: what a column's name hints at, and which values look like personal data.

:func:`column_hints` reads a column name (``dateOfBirth``, ``customer_name``, …) into hints; the value tests are
small and checksum-backed where a checksum exists (Luhn for cards, ISO 7064 mod-97 for IBANs, the never-issued
SSN ranges, real calendar dates); :data:`DETECTORS` lists them in priority order with the hints each needs,
:data:`CORROBORATE` the weak shapes that need a second test and :data:`ATTRIBUTES` the columns flagged by name
alone. Which detector, if any, names a column is decided by :func:`compliance.evidence.data.scan_column`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "ATTRIBUTES",
    "CORROBORATE",
    "DETECTORS",
    "FIRST_NAMES",
    "Detector",
    "column_hints",
    "hint_for",
    "luhn_valid",
    "parse_age",
]


# ---------------------------------------------------------------------------------------- column names


def _tokens(name: str) -> tuple[str, ...]:
    """Lower-case words of a column name: ``dateOfBirth`` → (date, of, birth), ``first-name`` → (first, name)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return tuple(t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t)


# hint → the column-name tokens (any of them) or joined spellings that give it
_TOKEN_HINTS: dict[str, frozenset[str]] = {
    "email": frozenset({"email", "mail", "emailaddress"}),
    "phone": frozenset({"phone", "telephone", "tel", "mobile", "cellphone", "fax", "msisdn", "phonenumber"}),
    "ssn": frozenset({"ssn"}),
    "nino": frozenset({"nino"}),
    "iban": frozenset({"iban"}),
    "card": frozenset({"card", "pan", "cardnumber", "creditcard", "ccnumber"}),
    "ip": frozenset({"ip", "ipaddress", "ipv4", "ipv6", "ipaddr"}),
    "birth-date": frozenset({"dob", "birthdate", "birthday", "dateofbirth", "born"}),
    "birth-year": frozenset({"yob", "birthyear", "yearofbirth"}),
    "age": frozenset({"age"}),
    "name-part": frozenset({"firstname", "forename", "givenname", "surname", "lastname", "familyname"}),
    "sex": frozenset({"sex"}),
    "gender": frozenset({"gender"}),
    "race": frozenset({"race", "racial"}),
    "ethnicity": frozenset({"ethnicity", "ethnic", "ethnicorigin"}),
    "religion": frozenset({"religion", "religious", "faith"}),
    "sexual-orientation": frozenset({"sexualorientation"}),
    "political-opinion": frozenset({"political", "politics"}),
    "trade-union": frozenset({"tradeunion", "unionmember", "unionmembership"}),
    "nationality": frozenset({"nationality", "citizenship", "nativecountry", "countryofbirth"}),
    "marital-status": frozenset({"marital", "maritalstatus"}),
    "health": frozenset({"diagnosis", "disability", "disease", "illness", "medical", "pregnancy", "pregnant"}),
    "biometric": frozenset({"fingerprint", "faceprint", "irisscan", "retinascan", "voiceprint", "faceembedding"}),
}
_SOCIAL_SECURITY = ("social", "security")
_NATIONAL_INSURANCE = ("national", "insurance")
_NAME_QUALIFIERS = frozenset({"first", "given", "last", "family", "middle", "maiden", "sur", "fore"})
_PERSON_OWNERS = frozenset(
    {"full", "person", "customer", "client", "patient", "contact", "employee", "holder", "cardholder",
     "applicant", "member", "student", "passenger", "guest", "beneficiary", "account", "owner"}
)  # fmt: skip


def column_hints(name: str) -> frozenset[str]:
    """The hints a column name gives (``phone``, ``age``, ``race``, …).

    For names: ``name-part`` (first_name, surname, …: one part of a name) and ``name`` (name, full_name,
    customer_name, …: a full name, or something else called a name, so it needs corroboration).
    """
    tokens = _tokens(name)
    joined = "".join(tokens)
    words = set(tokens)
    # adjacent pairs joined too, so ``date_of_birth`` gives dateofbirth and ``first name`` gives firstname
    words |= {a + b for a, b in itertools.pairwise(tokens)}
    words |= {a + b + c for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)}
    words.add(joined)
    hints = {hint for hint, spellings in _TOKEN_HINTS.items() if words & spellings}
    if _contains(tokens, _SOCIAL_SECURITY):
        hints.add("ssn")
    if _contains(tokens, _NATIONAL_INSURANCE):
        hints.add("nino")
    if "name" in tokens:
        before = tokens[tokens.index("name") - 1] if tokens.index("name") > 0 else None
        if before in _NAME_QUALIFIERS:
            hints.add("name-part")
        elif tokens == ("name",) or before in _PERSON_OWNERS:
            hints.add("name")
    if "card" in hints and not ({"number", "no", "num", "pan", "cardnumber", "creditcard", "ccnumber"} & words):
        hints.discard("card")  # card_type, card_id: not a card number
    if "age" in hints and "years" not in words and len(tokens) > 2:
        hints.discard("age")  # page_age_in_cache: too far from a person's age
    return frozenset(hints)


def _contains(tokens: tuple[str, ...], run: tuple[str, ...]) -> bool:
    return any(tokens[i : i + len(run)] == run for i in range(len(tokens) - len(run) + 1))


# -------------------------------------------------------------------------------------- value tests

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_PHONE_CHARS = re.compile(r"^\+?[\d\s().-]+$")
_E164_LIKE = re.compile(r"^\+[1-9][\d\s().-]*\d$")
_NANP = re.compile(r"^(?:\+?1[\s.-]?)?(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[\s.-])[2-9]\d{2}[\s.-]\d{4}$")
_TRUNK = re.compile(r"^\(?0\d{1,4}\)?(?:[\s-]\d{2,4}){1,4}$")
_DATE_SHAPED = re.compile(r"^\d{1,4}([-/.\s])\d{1,2}\1\d{1,4}$")
_SSN = re.compile(r"^(\d{3})-(\d{2})-(\d{4})$")
_SSN_PLAIN = re.compile(r"^(\d{3}) ?(\d{2}) ?(\d{4})$")
_NINO = re.compile(r"^(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_CARD_CHARS = re.compile(r"^\d[\d -]{11,22}\d$")
_IPV4 = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_SLASH_YMD = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_AGE = re.compile(r"^(\d{1,3})(?:\.\d+)?$")
_AGE_BAND = re.compile(r"^(?:\d{1,3}\s*[-\u2013]\s*\d{1,3}|[<>]=?\s*\d{1,3}|\d{1,3}\s*\+)$")
_NAME_PARTICLES = frozenset(
    {"van", "von", "de", "da", "del", "della", "der", "den", "di", "du", "dos", "das", "la", "le", "bin", "ibn",
     "al", "el", "ter", "y", "st", "mac"}
)  # fmt: skip
# Common given names (a few per language area, written from general knowledge; no downloaded data).
_FIRST_NAMES_TEXT = """
    james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony mark
    donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan jacob
    gary nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick
    raymond jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter kyle noah ethan jeremy
    walter christian keith roger terry austin sean gerald carl harold dylan arthur lawrence jordan jesse bryan
    billy bruce gabriel joe logan albert willie alan eugene russell vincent philip bobby johnny bradley roy ralph
    mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty sandra margaret
    ashley kimberly emily donna michelle carol amanda melissa deborah stephanie dorothy rebecca sharon laura
    cynthia amy kathleen angela shirley brenda emma anna pamela nicole samantha katherine christine helen debra
    rachel carolyn janet maria catherine heather diane olivia julie joyce victoria ruth virginia lauren kelly
    christina joan evelyn judith andrea hannah megan cheryl jacqueline martha madison teresa gloria sara janice
    ann kathryn abigail sophia frances jean alice judy isabella julia grace amber denise danielle marilyn
    beverly charlotte natalie theresa diana brittany doris kayla alexis lori marie ava mia chloe lily zoe
    oliver harry leo oscar archie freddie alfie charlie theo isla poppy freya sophie ella amelia jessica
    hans peter klaus jurgen stefan wolfgang andreas thomas michael uwe frank markus lukas felix maximilian paul
    anna ursula monika petra sabine claudia susanne andrea birgit katharina lena leonie
    jean pierre michel philippe alain nicolas francois louis luc marc julien antoine camille manon chloe
    marie nathalie isabelle sylvie catherine francoise valerie celine sandrine
    giuseppe giovanni antonio mario luigi francesco marco alessandro andrea matteo lorenzo luca
    giulia francesca chiara sara alessandra valentina federica elena silvia
    jose juan carlos luis miguel javier manuel francisco pedro alejandro diego pablo sergio jorge fernando
    maria carmen ana laura lucia marta elena isabel cristina paula sofia valentina camila gabriela daniela
    joao pedro tiago rafael bruno lucas mateus gustavo beatriz mariana juliana fernanda
    jan piotr krzysztof tomasz pawel anna katarzyna agnieszka magdalena ewa
    ivan sergei dmitri alexei vladimir olga natalia elena tatiana irina svetlana
    mohammed muhammad ahmed ali omar hassan hussein mahmoud youssef ibrahim fatima aisha zainab mariam layla
    rahul amit raj vijay sanjay anil sunil ravi arjun rohan priya pooja anjali neha sunita kavita deepa
    wei li ming jun hui yan lei jing xin hiroshi takashi kenji yuki haruto sakura yui hana min ji seo
    kwame kofi chinedu emeka oluwaseun amara ngozi chioma aaliyah jamal darnell malik deshawn tanisha
    """
FIRST_NAMES = frozenset(_FIRST_NAMES_TEXT.split())


def _is_email(value: str) -> bool:
    return "@" in value and len(value) <= 254 and _EMAIL.match(value) is not None


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _is_phone(value: str) -> bool:
    """International (+ and 8-15 digits), NANP with separators, or a trunk-0 national number with separators."""
    if not _PHONE_CHARS.match(value) or _DATE_SHAPED.match(value):
        return False
    digits = len(_digits(value))
    if value.startswith("+"):
        return 8 <= digits <= 15 and _E164_LIKE.match(value) is not None
    if _NANP.match(value):
        return True
    return 9 <= digits <= 12 and _TRUNK.match(value) is not None


def _is_phone_hinted(value: str) -> bool:
    """With a phone-like column name: also plain digit strings of 7-15 digits."""
    if _is_phone(value):
        return True
    return _PHONE_CHARS.match(value) is not None and not _DATE_SHAPED.match(value) and 7 <= len(_digits(value)) <= 15


def _valid_ssn(area: str, group: str, serial: str) -> bool:
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


def _is_ssn(value: str) -> bool:
    """US SSN ddd-dd-dddd outside the never-issued ranges (area 000, 666, 9xx; group 00; serial 0000)."""
    match = _SSN.match(value)
    return match is not None and _valid_ssn(*match.groups())


def _is_ssn_hinted(value: str) -> bool:
    match = _SSN.match(value) or _SSN_PLAIN.match(value)
    return match is not None and _valid_ssn(*match.groups())


def _is_nino(value: str) -> bool:
    """UK National Insurance number: two prefix letters (HMRC's allowed set), six digits, suffix A-D."""
    return len(value) <= 13 and _NINO.match(value.replace(" ", "").upper()) is not None


def _is_iban(value: str) -> bool:
    """IBAN (spaces allowed) whose ISO 7064 mod-97 check digits hold."""
    compact = value.replace(" ", "").upper()
    if not _IBAN.match(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2 == 1:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


def _card_brand_fits(digits: str) -> bool:
    """A known issuer prefix with a length it issues: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay."""
    n = len(digits)
    two, four, six = int(digits[:2]), int(digits[:4]), int(digits[:6])
    return (
        (digits[0] == "4" and n in (13, 16, 19))
        or ((51 <= two <= 55 or 2221 <= four <= 2720) and n == 16)
        or (two in (34, 37) and n == 15)
        or ((four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649 or 622126 <= six <= 622925) and 16 <= n <= 19)
        or (3528 <= four <= 3589 and 16 <= n <= 19)
        or ((300 <= int(digits[:3]) <= 305 or two in (36, 38, 39)) and 14 <= n <= 19)
        or (two == 62 and 16 <= n <= 19)
    )


def _is_card(value: str) -> bool:
    """A payment card number: 13-19 digits (spaces or dashes allowed), a known issuer prefix, Luhn check."""
    if not _CARD_CHARS.match(value):
        return False
    digits = _digits(value)
    return 13 <= len(digits) <= 19 and _card_brand_fits(digits) and luhn_valid(digits)


def _is_ip(value: str) -> bool:
    if _IPV4.match(value):
        return True
    if ":" not in value or len(value) > 45:
        return False
    try:
        ipaddress.IPv6Address(value.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _valid_date(year: int, month: int, day: int) -> bool:
    if not 1880 <= year <= 2100:
        return False
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _is_date(value: str) -> bool:
    """A calendar date (ISO, optionally with a time; Y/M/D; D/M/Y or M/D/Y; YYYYMMDD), years 1880-2100."""
    for pattern in (_ISO_DATE, _SLASH_YMD, _COMPACT_DATE):
        match = pattern.match(value)
        if match:
            return _valid_date(int(match[1]), int(match[2]), int(match[3]))
    match = _DMY.match(value)
    if match:
        a, b, year = int(match[1]), int(match[2]), int(match[3])
        return _valid_date(year, b, a) or _valid_date(year, a, b)
    return False


def _is_birth_year(value: str) -> bool:
    return value.isdigit() and len(value) == 4 and 1880 <= int(value) <= 2100


def parse_age(value: str) -> int | None:
    """The whole years of an age value (``42``, ``42.5``), or None."""
    match = _AGE.match(value)
    return int(match[1]) if match else None


def _is_age(value: str) -> bool:
    age = parse_age(value)
    return (age is not None and age <= 130) or _AGE_BAND.match(value) is not None


def _name_word(word: str, *, first: bool) -> bool:
    """Mary, O'Brien, McDonald, Jean-Luc, Émile, SMITH; an initial (J.); a particle (van, de) after the first."""
    if not first and word.lower() in _NAME_PARTICLES:
        return True
    if len(word) <= 2 and re.fullmatch(r"[A-Z]\.?", word):
        return not first or word.endswith(".")
    core = re.sub(r"['\u2019-]", "", word)
    if len(core) < 2 or not core.isalpha():
        return False
    if core.isupper():
        return True
    return all(_name_piece(piece) for piece in re.split(r"['\u2019-]", word))


def _name_piece(piece: str) -> bool:
    if not piece or not piece[0].isupper():
        return False
    return len(piece) == 1 or piece[1:].islower() or re.fullmatch(r"Ma?c[A-Z][a-z]+", piece) is not None


def _name_words(value: str) -> list[str] | None:
    words = value.replace(",", " ").split()
    if not 1 <= len(words) <= 4 or len(value) > 80:
        return None
    if all(_name_word(w, first=i == 0) for i, w in enumerate(words)):
        return words
    return None


def _is_name_part(value: str) -> bool:
    """One part of a person's name (first or last name column): 1-4 capitalised words."""
    return _name_words(value) is not None


def _is_full_name(value: str) -> bool:
    """A full name: 2-4 capitalised words."""
    words = _name_words(value)
    return words is not None and len(words) >= 2


def _known_first_name(value: str) -> bool:
    """A full name whose first (or, for ``Last, First``, second) word is in the built-in given-name list."""
    words = _name_words(value)
    if words is None or len(words) < 2:
        return False
    first = words[1] if "," in value else words[0]
    return first.lower().strip(".") in FIRST_NAMES


# -------------------------------------------------------------------------------------------- detectors


@dataclass(frozen=True)
class Detector:
    """A value test; ``hints``: the column-name hints it needs (empty: runs on every column)."""

    name: str
    category: str
    test: Callable[[str], bool]
    hints: frozenset[str] = frozenset()


# In priority order: on a tie in share, the earlier (more specific) detector names the column.
DETECTORS: tuple[Detector, ...] = (
    Detector("email", "personal", _is_email),
    Detector("payment-card", "financial", _is_card),
    Detector("iban", "financial", _is_iban),
    Detector("us-ssn", "personal", _is_ssn),
    Detector("us-ssn", "personal", _is_ssn_hinted, frozenset({"ssn"})),
    Detector("uk-nino", "personal", _is_nino),
    Detector("ip-address", "personal", _is_ip),
    Detector("phone", "personal", _is_phone),
    Detector("phone", "personal", _is_phone_hinted, frozenset({"phone"})),
    Detector("date-of-birth", "personal", _is_date, frozenset({"birth-date"})),
    Detector("date-of-birth", "personal", _is_birth_year, frozenset({"birth-year"})),
    Detector("person-name", "personal", _is_name_part, frozenset({"name-part"})),
    Detector("person-name", "personal", _is_full_name, frozenset({"name"})),
    Detector("person-name", "personal", _known_first_name),
    Detector("age", "personal", _is_age, frozenset({"age"})),
)
# Weak shapes that need corroboration: (detector, its corroborating test, the share of values that must pass it)
CORROBORATE: dict[tuple[str, frozenset[str]], tuple[Callable[[str], bool], float]] = {
    ("person-name", frozenset({"name"})): (_known_first_name, 0.3),
}
# Attribute columns, flagged by their name alone: hint → category.
ATTRIBUTES: dict[str, str] = {
    "race": "special",
    "ethnicity": "special",
    "religion": "special",
    "sexual-orientation": "special",
    "political-opinion": "special",
    "trade-union": "special",
    "health": "health",
    "biometric": "biometric",
    "sex": "personal",
    "gender": "personal",
    "nationality": "personal",
    "marital-status": "personal",
}


def hint_for(detector: str, hints: frozenset[str]) -> str | None:
    """The hint among ``hints`` that enabled or supports ``detector`` (by its name), if any."""
    related = {
        "email": ("email",),
        "payment-card": ("card",),
        "iban": ("iban",),
        "us-ssn": ("ssn",),
        "uk-nino": ("nino",),
        "ip-address": ("ip",),
        "phone": ("phone",),
        "date-of-birth": ("birth-date", "birth-year"),
        "person-name": ("name-part", "name"),
        "age": ("age",),
    }.get(detector, ())
    return next((hint for hint in related if hint in hints), None)

"""What kind of answer a question asks for, and whether a sentence holds one.

Rules a person can read and test, no model: "who" wants a name, "when" a date or time, "how
many/much" a number or amount ("how much did it cost" a sum of money: a figure with a currency;
a year is a date, never a count), "where" a place, "why" a reason. A sentence *holds* an answer
of that kind only when the name, date or number is not already in the question: a lede that
repeats the question's own names restates it, it does not answer it.
"""

from __future__ import annotations

import enum
import functools
import re


class AnswerKind(enum.Enum):
    PERSON = "person or organisation"
    DATE = "date or time"
    NUMBER = "number or amount"
    MONEY = "sum of money"
    PLACE = "place"
    REASON = "reason"
    NAME = "name or term"


_KIND_RULES: list[tuple[AnswerKind, re.Pattern[str]]] = [
    (
        AnswerKind.MONEY,
        re.compile(
            r"\bhow much\b.*\b(?:cost|costs|costing|pay|paid|pays|spend|spent|spends|worth|charge|"
            r"charged|earn|earned|raise|raised|sell|sold|owe|owed|fined|invest|invested|budget|"
            r"money|fund|funding|compensation)\b|\bhow much money\b|"
            r"\bwhat(?: \w+){0,2} (?:price|cost|fee|fine|salary|budget)\b",
            re.I,
        ),
    ),
    (
        AnswerKind.NUMBER,
        re.compile(
            r"\bhow (?:many|much|old|long|far|big|large|tall|high|deep|wide|fast|often|heavy)\b|"
            r"\bwhat (?:\w+ )?(?:percentage|percent|share|number|amount|proportion|rate|price|cost|"
            r"total|sum|figure|score|margin|toll|age|population|count|size|speed|value)\b|"
            r"\bhow (?:\w+ )?(?:money|people|votes|points|goals)\b",
            re.I,
        ),
    ),
    (
        AnswerKind.DATE,
        re.compile(
            r"\bwhen\b|\bwhat (?:years?|dates?|days?|months?|times?|decades?|century|centuries|seasons?|hours?)\b|"
            r"\bwhich (?:years?|dates?|days?|months?|decades?|century|centuries|seasons?)\b|\bhow long ago\b|"
            r"\bby when\b",
            re.I,
        ),
    ),
    (
        AnswerKind.PLACE,
        re.compile(
            r"\bwhere\b|\b(?:what|which|in what|in which) (?:city|country|town|state|region|"
            r"place|province|county|village|continent|area|location|venue|stadium|island|port|"
            r"district|neighbou?rhood|capital|river|street|site)\b",
            re.I,
        ),
    ),
    (
        AnswerKind.PERSON,
        re.compile(
            r"^\W*who(?:m|se)?\b|(?-i:\bwho(?:m|se)?\b)|"  # "Who" inside a question is a name: Doctor Who
            r"\b(?:what|which)(?: [\w.'-]+){0,2}? (?:person|people|company|companies|firm|"
            r"organi[sz]ation|team|group|agency|party|official|minister|president|leader|player|coach|"
            r"club|ministry|court|body|institute|university|network|brand|band|regulator|authority|"
            r"union|department|bank|carrier|airline|manufacturer|maker|insurer|charity|council|"
            r"committee|panel|candidate|artist|singer|actor|author|writer|scientist|researcher|"
            r"expert|journal|newspaper|broadcaster|spokes\w+)\b",
            re.I,
        ),
    ),
    (AnswerKind.REASON, re.compile(r"\bwhy\b|\bwhat (?:caused|led to|prompted|is the reason)\b", re.I)),
    (
        AnswerKind.NAME,
        re.compile(r"(?=.*\b(?:what|which)\b).*\bname\b|\bcalled\b|\bknown as\b|\bnamed\b", re.I),
    ),
]


def expected_kind(question: str) -> AnswerKind | None:
    """The kind of answer ``question`` asks for, or None for open questions ("what did...")."""
    for kind, rule in _KIND_RULES:
        if rule.search(question):
            return kind
    return None


_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan\.|feb\.|aug\.|sept?\.|oct\.|nov\.|dec\."
)
_DATE = re.compile(
    rf"\b(?:{_MONTHS})(?=\W)|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|"
    r"\b(?:1[0-9]|20)\d\d(?:s)?\b|\b\d{1,2}(?::\d\d)?\s?(?:a\.m\.|p\.m\.|am\b|pm\b)|"
    r"\b(?:yesterday|today|tonight|tomorrow|last (?:week|month|year|night)|this (?:week|month|year)|"
    r"next (?:week|month|year)|earlier this (?:week|month|year)|(?:\w+ )?(?:days|weeks|months|years) "
    r"(?:ago|later|earlier)|(?:spring|summer|autumn|fall|winter)|century|decade|noon|midnight)\b",
    re.I,
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|hundreds|thousand|thousands|million|millions|billion|billions|trillion|dozen|dozens|"
    r"half|third|quarter|double|twice|triple"
)
_NUMBER = re.compile(rf"[$€£¥]?\d[\d,.]*%?|[$€£¥]|\bpercent\b|\b(?:{_NUMBER_WORDS})\b", re.I)
_CURRENCIES = (
    r"dollars?|euros?|pounds?|sterling|yen|yuan|renminbi|rupees?|roubles?|rubles?|francs?|pesos?|"
    r"won|lira|kronor|krona|kroner|rand|reais|real|dinars?|dirhams?|riyals?|shekels?|cents?|pence|"
    r"usd|eur|gbp|jpy|cny|chf|inr"
)
# Money: a currency sign or code next to a figure, or a figure with a currency word.
_MONEY = re.compile(
    rf"[$€£¥₹₽]\s?\d[\d,.]*(?:\s?(?:million|billion|trillion|bn|m|k))?|"
    rf"\b\d[\d,.]*\s?(?:million|billion|trillion|bn|m|k)?\s?(?:{_CURRENCIES})\b|"
    rf"\b(?:{_CURRENCIES})\s?\d[\d,.]*",
    re.I,
)
# Numbers that belong to a date: a year (1000-2099 alone) or the day next to a month's name.
_DATE_NUMBERS = re.compile(
    rf"(?<![\d,.$€£¥])\b(?:1\d|20)\d\d\b(?![\d,.]\d)|\b(?:{_MONTHS})\s+\d{{1,2}}\b|\b\d{{1,2}}\s+(?:{_MONTHS})(?=\W)",
    re.I,
)
_REASON = re.compile(
    r"\b(?:because|due to|as a result|owing to|so that|in order to|thanks to|citing|amid|"
    r"after|since|caused by|led to|blamed|reason|aimed at|to (?:protect|avoid|prevent|help|reduce|"
    r"ensure|allow|stop|make|keep|boost|cut|save))\b",
    re.I,
)
_PLACE_LEAD = re.compile(
    r"\b(?:in|at|from|near|to|into|across|outside|inside|of)\s+(?:the\s+)?([A-Z][\w'’.-]+)"
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’.-]*[a-zA-Z]|\b[A-Z]{2,}\b")
_WORD = re.compile(r"\w+")
_PERSON_ROLES = re.compile(
    r"\b(?:said|told|according to|spokes(?:man|woman|person)|minister|president|chief|director|"
    r"officials?|executive|founder|leader|coach|captain|CEO|chair(?:man|woman)?|mayor|governor|"
    r"senator|judge|researchers?|scientists?|professor)\b",
    re.I,
)


@functools.lru_cache(maxsize=256)
def _words(question: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(question))


def _outside_question(matches: list[str], question_words: frozenset[str]) -> bool:
    return any(not set(_WORD.findall(m.lower())) <= question_words for m in matches)


# A wire dateline ("A CORUÑA, Spain, Jan 24 (ENS) — ") names where the story was filed, not an answer.
_DATELINE = re.compile(
    r"^[A-ZÀ-Ý][A-ZÀ-Ý .'’-]+(?:,\s*[A-Z][\w .]*?)?(?:,\s*\w+\.? \d{1,2})?\s*(?:\([A-Za-z]+\))?\s*[—–-]+\s*"
)
_NOT_NAMES = re.compile(
    rf"^(?:{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|the|a|an|in|on|at|"
    r"but|and|it|this|that|he|she|they|we|i)$",
    re.I,
)


def holds_kind(sentence: str, kind: AnswerKind | None, question: str) -> bool:
    """True when ``sentence`` contains an answer of ``kind`` that the question does not."""
    if kind is None:
        return False
    sentence = _DATELINE.sub("", sentence, count=1)
    question_words = _words(question)
    if kind is AnswerKind.MONEY:
        return _outside_question(_MONEY.findall(sentence), question_words)
    if kind is AnswerKind.NUMBER:
        # A year or a day of the month is a date, not a count: "How many..." is not answered by it.
        return _outside_question(_NUMBER.findall(_DATE_NUMBERS.sub(" ", sentence)), question_words)
    if kind is AnswerKind.DATE:
        return _outside_question(_DATE.findall(sentence), question_words)
    if kind is AnswerKind.REASON:
        return bool(_REASON.search(sentence))
    if kind is AnswerKind.PLACE:
        return _outside_question(_PLACE_LEAD.findall(sentence), question_words)
    names = [n for n in _CAPITALISED.findall(sentence) if not _NOT_NAMES.match(n)]
    if kind is AnswerKind.NAME:
        return _outside_question(names, question_words) or bool(re.search(r"(?:^|\s)[\"“'‘]\w", sentence))
    # PERSON: a name the question does not have, or a role word next to one.
    return _outside_question(names, question_words) and (
        len(names) > 0 or bool(_PERSON_ROLES.search(sentence))
    )

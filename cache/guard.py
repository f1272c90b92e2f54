"""The agreement guard: two questions may share an answer only if their hard facts agree.

Embeddings put "square root of 16" next to "square root of 18" and "season 5" next to
"season 6"; this guard refuses such pairs whatever their cosine. It extracts, from each text:
numbers (digits, number words, ordinals, roman numerals, normalised so "5", "five" and "fifth"
agree), units and currencies, negations (counted), words from a curated antonym list, named
entities (capitalised or mixed-case words not starting a sentence, acronyms), quoted strings,
code (backtick spans and code-like tokens), and words of other scripts or unusual symbols
("What does 才 mean?"). Every one of these must agree exactly.
The check is cheap (regexes over two short texts) and runs only on ANN candidates.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass

_NUMBER_WORDS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 10**6, "billion": 10**9, "trillion": 10**12, "dozen": 12, "half": 0.5, "twice": 2,
    "double": 2, "triple": 3, "single": 1, "once": 1, "thrice": 3, "couple": 2, "both": 2,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "twentieth": 20, "hundredth": 100,
    "last": -1, "quarter": 0.25, "percent": "%", "teens": 10, "twenties": 20, "thirties": 30,
    "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70, "eighties": 80, "nineties": 90,
}  # "one" is left out on purpose: it is mostly a pronoun ("which one"); "1" still counts.
_ROMAN = {"ii": 2, "iii": 3, "iv": 4, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "xi": 11, "xii": 12, "xiii": 13,
          "xiv": 14, "xv": 15, "xvi": 16, "xx": 20}
_UNITS = {
    "%", "$", "€", "£", "¥", "₹", "usd", "eur", "gbp", "inr", "dollar", "dollars", "euro", "euros", "pound",
    "pounds", "rupee", "rupees", "yen", "yuan", "bitcoin", "km", "kms", "kilometer", "kilometers", "mile",
    "miles", "meter", "meters", "metre", "metres", "cm", "mm", "inch", "inches", "foot", "feet", "ft",
    "yard", "yards", "kg", "kgs", "kilogram", "kilograms", "gram", "grams", "g", "lb", "lbs", "ounce",
    "ounces", "oz", "ton", "tons", "tonne", "tonnes", "liter", "liters", "litre", "litres", "ml", "gallon",
    "gallons", "second", "seconds", "sec", "minute", "minutes", "min", "mins", "hour", "hours", "hr",
    "hrs", "day", "days", "week", "weeks", "month", "months", "year", "years", "yr", "yrs", "decade",
    "decades", "century", "centuries", "gb", "mb", "kb", "tb", "ghz", "mhz", "hz", "mp", "mah", "w",
    "kw", "kwh", "v", "volt", "volts", "celsius", "fahrenheit", "degree", "degrees", "calorie",
    "calories", "lakh", "lakhs", "crore", "crores", "bhk", "am", "pm", "st", "nd", "rd", "th",
}
_NEGATIONS = {
    "not", "no", "never", "cannot", "cant", "without", "none", "nobody", "nothing", "nowhere", "neither",
    "nor", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt", "shouldnt",
    "couldnt", "hasnt", "havent", "hadnt", "mustnt", "neednt", "aint", "lack", "lacks", "unable",
    "fail", "fails", "failed", "except", "instead", "non",
}
# Words that turn a question into its opposite without a negation: "How do I stop lying to my
# parents?" is not "How do I lie to my parents?". Counted on both sides, like negations.
_POLARITY = {
    "stop", "stops", "stopping", "stopped", "quit", "quits", "quitting", "avoid", "avoids", "avoiding",
    "prevent", "prevents", "preventing", "cease", "ceasing", "ban", "banned", "banning", "anti", "against",
    "from",  # a direction: "flights to Paris" are not "flights from Paris"
}
# Curated antonym groups: each group lists its poles ("|" separates poles, spaces separate words of
# one pole). Two questions disagree when both use a group but not its poles equally often, so
# "best" vs "worst" is refused, and so is "a woman attracted to women" vs "a man attracted to
# women", while "best" vs no such word at all is left to the embedding.
_ANTONYM_GROUPS: tuple[str, ...] = (
    "best|worst", "better|worse", "good great|bad evil terrible", "advantage advantages benefit benefits pros"
    "|disadvantage disadvantages drawback drawbacks downside downsides cons",
    "increase increases increasing raise gain grow boost|decrease decreases decreasing reduce reducing lose lower cut",
    "more|less fewer", "most|least", "high|low", "higher|lower", "highest|lowest", "hot|cold", "warm|cool",
    "male|female", "man|woman", "men|women", "boy|girl", "boys|girls", "husband|wife", "father|mother",
    "son|daughter", "rich wealthy|poor", "positive|negative", "cheap cheaper cheapest|expensive costly costliest",
    "start starting begin beginning|stop stopping end ending finish quit", "import|export", "win winning|lose losing",
    "gain|loss", "love loves like likes|hate hates dislike dislikes", "easy easier easiest|hard harder hardest difficult",
    "legal|illegal", "possible|impossible", "true|false", "right|wrong", "safe safer safest|unsafe dangerous",
    "fast faster fastest quick quickly|slow slower slowest slowly", "old older oldest|new newer newest|young younger youngest",
    "big bigger biggest large larger largest|small smaller smallest little tiny",
    "long longer longest|short shorter shortest", "open opening|close closing closed", "enable|disable",
    "add adding|remove removing delete deleting", "include|exclude", "first|last", "earliest|latest",
    "early|late", "minimum min|maximum max", "upload|download", "input|output", "north|south", "east|west",
    "day|night", "summer|winter", "accept|reject", "agree|disagree", "pass|fail", "success|failure",
    "successful|unsuccessful", "always|never|sometimes", "everyone everybody|nobody", "inside|outside",
    "above|below", "before|after", "buy buying buyer|sell selling seller", "lend|borrow", "send sent sending give gave given giving|receive received receiving get got",
    "push|pull", "happy|sad unhappy", "healthy|unhealthy", "strong|weak", "strength strengths|weakness weaknesses",
    "heavy|light", "wet|dry", "dark|bright", "black|white", "internal|external", "public|private",
    "major|minor", "deep|shallow", "thick|thin", "fat|thin", "future|past", "tomorrow|yesterday|today",
    "asleep|awake", "alive|dead", "birth|death", "friend friends|enemy enemies", "teacher|student",
    "employer|employee", "vertical|horizontal", "odd|even", "prime|composite", "add|subtract",
    "multiply|divide", "permanent|temporary", "online|offline", "encrypt|decrypt", "upper uppercase|lower lowercase",
    "liberal|conservative", "democrat democrats|republican republicans", "theist|atheist",
    "introvert introverts|extrovert extroverts", "win|loss", "pro|anti", "in|out", "on|off", "up|down", "over|under",
    "ascending ascend|descending descend", "horizontally|vertically", "local locally|remote remotely",
    "client|server", "frontend front-end|backend back-end", "synchronous sync synchronously|asynchronous async asynchronously",
    "static|dynamic", "inner|outer", "prefix|suffix", "singular|plural", "increment|decrement", "encode encoding|decode decoding",
    "compress compression|decompress decompression", "install installing|uninstall uninstalling", "login|logout",
    "sunrise|sunset", "arrival arrive arriving|departure depart departing", "entry entrance|exit", "numerator|denominator",
    "import importing|export exporting", "left|right", "top|bottom", "front|back", "forward|backward backwards",
    "attack|defend defense defence", "offense offence offensive|defense defence defensive", "predator|prey",
    "morning mornings|afternoon afternoons|evening evenings|night nights", "weekday weekdays|weekend weekends",
    "summer|winter|spring|autumn", "daily|weekly|monthly|yearly annual annually", "gross|net", "raw|cooked",
    "adult adults|child children kid kids", "boiling|freezing|melting", "lock|unlock", "zip|unzip", "follow|unfollow",
    "subscribe|unsubscribe", "hide|unhide", "mute|unmute", "block|unblock", "mount|unmount", "pause|resume",
    "all every|some", "landlord landlords|tenant tenants", "citizen citizens|resident residents",
)


def _build_antonym_index() -> dict[str, list[tuple[int, int]]]:
    index: dict[str, list[tuple[int, int]]] = {}
    for g, group in enumerate(_ANTONYM_GROUPS):
        for p, pole in enumerate(group.split("|")):
            for word in pole.split():
                index.setdefault(word, []).append((g, p))
    return index


_ANTONYM_INDEX = _build_antonym_index()


_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d[\d,]*(?:\.\d+)?(?:(?:st|nd|rd|th)(?![A-Za-z]))?|[%$€£¥₹]")
_NUMBER = re.compile(r"^(\d[\d,]*(?:\.\d+)?)(?:st|nd|rd|th)?$")
_QUOTED = re.compile(r"\"([^\"]{1,200})\"|“([^”]{1,200})”|(?<![A-Za-z])'([^']{1,200})'(?![A-Za-z])")
_BACKTICK = re.compile(r"```(.*?)```|`([^`]+)`", re.S)
_CODE_TOKEN = re.compile(
    r"[A-Za-z_][\w]*\([^)]*\)|\w+(?:\.\w+)+\(?|\b\w*_\w+\b|[\w.]*[=<>!]=[\w.]*|\w+(?:::|->)\w+|"
    r"(?<!\w)[/~][\w.\-]+(?:/[\w.\-]+)+|\b[A-Za-z]+\+\+|\b[A-Za-z]#"
)
_PART_SPLIT = re.compile(r"[-'’]")
# Names made of letters and digits ("iPhone 6s", "PS4", "i7", "1990s") must agree exactly;
# ordinals ("5th") and amounts with a unit ("4kg", "8GB") are left to the number and unit rules.
_ALNUM = re.compile(r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]+\b")
_AMOUNT = re.compile(r"^\d+(?:st|nd|rd|th|([a-z]+))$")
# Characters prose rarely uses: other scripts, emoji, and symbols such as "#", "&" or "^". Two
# questions that differ only in them ("What does 才 mean?" vs "What does 竟然 mean?", "# vs ##")
# embed alike, so they must agree exactly. Typographic quotes, dashes and ellipses are prose.
_SYMBOLS = re.compile(r"[^\x00-\x7f‘’“”–—…•·«»]+|[#*+/<=>@\[\]^_{|}~\\&]+")
_SENTENCE_END = re.compile(r"[.!?:;\n]\s*$")


def number_value(token: str) -> str | None:
    low = token.lower()
    m = _NUMBER.match(low)
    if m:
        return f"{float(m.group(1).replace(',', '')):.12g}"
    if low in _NUMBER_WORDS:
        v = _NUMBER_WORDS[low]
        return v if isinstance(v, str) else f"{v:g}"
    if low in _ROMAN and token.isupper():
        return f"{_ROMAN[low]:g}"
    return None


def _is_amount(token: str) -> bool:
    m = _AMOUNT.match(token)
    return m is not None and (m.group(1) is None or m.group(1) in _UNITS)


@dataclass(frozen=True)
class Facts:
    """The hard facts of one question that another must share to get its answer."""

    numbers: tuple[str, ...]
    units: frozenset[str]
    negations: int
    polarity: int  # words such as "stop", "avoid", "against"
    antonyms: tuple[tuple[int, int, int], ...]  # (group, pole, occurrences), sorted
    entities: frozenset[str]
    words: frozenset[str]  # every word, lower-cased: an entity of one text must occur in the other
    quoted: frozenset[str]
    code: frozenset[str]
    symbols: tuple[str, ...]  # runs of other scripts and of unusual symbols, sorted


def _norm_word(word: str) -> str:
    return word.lower().replace("’", "'").strip("'-")


@functools.lru_cache(maxsize=65_536)  # cached questions are checked again and again
def extract_facts(text: str) -> Facts:
    code = {re.sub(r"\s+", " ", (a or b).strip()) for a, b in _BACKTICK.findall(text)}
    prose = _BACKTICK.sub(" ", text)
    code |= {m.group(0).strip() for m in _CODE_TOKEN.finditer(prose)}
    code |= {t for t in (m.group(0).lower() for m in _ALNUM.finditer(prose)) if not _is_amount(t)}
    quoted = {re.sub(r"\s+", " ", next(g for g in groups if g)).strip().lower() for groups in _QUOTED.findall(prose)}

    numbers: list[str] = []
    units: set[str] = set()
    negations = polarity = 0
    antonyms: Counter[tuple[int, int]] = Counter()
    entities: set[str] = set()
    words: set[str] = set()
    for match in _WORD.finditer(prose):
        token = match.group(0)
        word = _norm_word(token)
        value = number_value(token)
        if value is not None:
            numbers.append(value)
        compact = word.replace("'", "")
        if word in _UNITS or compact in _UNITS or token in "%$€£¥₹":
            units.add(compact or token)
        if compact in _NEGATIONS or word.endswith("n't"):
            negations += 1
        polarity += compact in _POLARITY
        words.add(compact)
        # "25-year-old", "ice-cold", "today's", "man's": look at each part of the token.
        for part in _PART_SPLIT.split(word):
            if part == "non" and part != compact:  # "non-leap year" is not a leap year ("non" alone: counted above)
                negations += 1
            if part and part not in ("s", "t"):
                antonyms.update(_ANTONYM_INDEX.get(part, ()))
                words.add(part)
        starts_sentence = match.start() == 0 or bool(_SENTENCE_END.search(prose[: match.start()]))
        is_named = token[:1].isupper() and not starts_sentence and token not in ("I", "I'm", "I've", "I'd", "I'll")
        mixed = any(c.isupper() for c in token[1:]) and any(c.islower() for c in token)  # iPhone, GitHub
        if (is_named or mixed) and value is None:
            entities.add(compact)
    symbols = tuple(sorted(m.group(0).lower() for m in _SYMBOLS.finditer(text)))
    return Facts(tuple(sorted(numbers)), frozenset(units), negations, polarity, tuple(sorted((g, p, n) for (g, p), n in antonyms.items())),
                 frozenset(entities), frozenset(words), frozenset(quoted), frozenset(code), symbols)


def _poles(counts: tuple[tuple[int, int, int], ...]) -> dict[int, dict[int, int]]:
    by_group: dict[int, dict[int, int]] = {}
    for group, pole, n in counts:
        by_group.setdefault(group, {})[pole] = n
    return by_group


_NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non")


def _negated_by_prefix(words: frozenset[str], others: frozenset[str]) -> bool:
    """A word of one question is a word of the other with a negating prefix ("valid" / "invalid",
    "cooked" / "uncooked"), the plain word missing from the first: the questions are opposites."""
    only_here, only_there = words - others, others - words
    for word in only_here:
        for prefix in _NEGATING_PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 4 and word[len(prefix) :] in only_there:
                return True
    return False


def disagreement(a: Facts, b: Facts) -> str | None:
    """None when the facts agree, else the first kind of fact that differs."""
    if Counter(a.numbers) != Counter(b.numbers):
        return "numbers"
    if a.units != b.units:
        return "units"
    if a.negations != b.negations:
        return "negation"
    if a.polarity != b.polarity:
        return "polarity"
    poles_a, poles_b = _poles(a.antonyms), _poles(b.antonyms)
    if any(poles_a[g] != poles_b[g] for g in poles_a.keys() & poles_b.keys()):
        return "antonyms"
    if _negated_by_prefix(a.words, b.words) or _negated_by_prefix(b.words, a.words):
        return "antonyms"
    if not a.entities <= b.words or not b.entities <= a.words:
        return "entities"
    if a.quoted != b.quoted:
        return "quoted"
    if a.code != b.code:
        return "code"
    if a.symbols != b.symbols:
        return "symbols"
    return None


def facts_agree(cached_question: str, new_question: str) -> bool:
    return disagreement(extract_facts(cached_question), extract_facts(new_question)) is None

"""The agreement guard: two questions may share an answer only if their hard facts agree.

Embeddings put "square root of 16" next to "square root of 18" and "season 5" next to
"season 6"; this guard refuses such pairs whatever their cosine. It extracts, from each text:
- numbers (digits, number words, ordinals, roman numerals, plural magnitudes; "5" and "five"
  agree, "5th" and "fifth" too, "5" and "fifth" do not) and their order ("10 divided by 2" is not
  "2 divided by 10"; numbers joined by "and"/"or" may swap, a list or tuple with commas alone
  keeps its order);
- units and currencies (SI-prefixed ones too: "mbps" is not "gbps"), and each amount with its
  own unit ("$100 in €" is not "€100 in $");
- negations and either-way alternatives ("with or without", "or not"), universal quantifiers
  ("all", "every", "each"; "delete a branch" is not "delete all branches") and "every other",
  all counted;
- words from a curated antonym list (by surface form, Snowball stem, and with a comparative,
  superlative or agent suffix removed: "stronger" / "weaker", "lender" / "borrower"), opposite
  affixes ("valid" / "invalid", "useful" / "useless"), plurals with a sense of their own
  ("glasses" / "glass", "times" / "time");
- named entities (capitalised or mixed-case words not starting a sentence, acronyms), short
  names capitalised otherwise on each side ("CO" / "Co");
- quoted strings, the text after a colon that a question asks about (as written, case included),
  code (backtick spans, code-like tokens, flags and escapes with their case: "-r" / "-R",
  grouped math and factorials: "(a+b)^2", "10!"), and words of other scripts or unusual symbols,
  in order ("What does 才 mean?").
Every one of these must agree exactly. `is_contrast_word` tells the match rule which words may
never be the one word a question merely adds ("lowest", "free", "tomorrow").
The check is cheap (regexes over two short texts) and runs only on ANN candidates.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter
from dataclasses import dataclass

import snowballstemmer

_NUMBER_WORDS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    "million": 10**6, "billion": 10**9, "trillion": 10**12, "dozen": 12, "half": 0.5, "twice": "x2",
    "double": "x2", "triple": "x3", "single": 1, "once": 1, "thrice": "x3", "couple": 2, "both": "both",
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "twentieth": 20, "hundredth": 100,
    "last": -1, "quarter": 0.25, "percent": "%",
    # decades and plural magnitudes are ranges: "the fifties" (50s) is not "fifty"
    "teens": "10s", "twenties": "20s", "thirties": "30s", "forties": "40s", "fifties": "50s", "sixties": "60s",
    "seventies": "70s", "eighties": "80s", "nineties": "90s", "dozens": "12s", "hundreds": "100s",
    "thousands": "1000s", "millions": "1000000s", "billions": "1000000000s", "trillions": "1000000000000s",
    "next": "next", "previous": "previous",  # relative positions, like "last"
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
    "kw", "kwh", "v", "volt", "volts", "ppm", "ppb", "ppt", "celsius", "fahrenheit", "degree", "degrees", "calorie",
    "calories", "lakh", "lakhs", "crore", "crores", "bhk", "am", "pm", "st", "nd", "rd", "th",
    "m", "s", "ms", "mph", "kph", "kmh", "knot", "knots",  # "10 m/s in mph" is not "10 mph in m/s"
}
# Data, rate, frequency and power units with an SI prefix ("mbps" / "gbps", "khz", "mwh").
_SI_UNIT = re.compile(r"^(?:[kmgtp](?:b|bps|bit|bits|byte|bytes|hz|w|wh)|bps|wh)$")
_NEGATIONS = {
    "not", "no", "never", "cannot", "cant", "without", "none", "nobody", "nothing", "nowhere", "neither",
    "nor", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "wont", "wouldnt", "shouldnt",
    "couldnt", "hasnt", "havent", "hadnt", "mustnt", "neednt", "aint", "lack", "lacks", "unable",
    "fail", "fails", "failed", "except", "instead", "non",
}
NEGATION_WORDS = frozenset(_NEGATIONS)  # for the word-order check in cache.lexical
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
    "more|less fewer", "most|least fewest", "most|many", "few|lot lots plenty", "high|low", "higher|lower", "highest|lowest", "hot|cold", "warm|cool",
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
    "successful|unsuccessful",
    "always|usually generally typically mostly|often frequently|sometimes occasionally|rarely seldom|never", "everyone everybody|nobody", "inside within|outside",
    "above|below", "before|after", "buy buying buyer|sell selling seller", "lend|borrow", "send sent sending give gave given giving|receive received receiving get got",
    "push|pull", "happy|sad unhappy", "healthy|unhealthy", "strong|weak", "strength strengths|weakness weaknesses",
    "heavy|light", "wet|dry", "dark|bright", "black|white", "internal|external", "public|private",
    "major|minor", "deep|shallow", "thick|thin", "fat|thin", "future|past", "today tonight|tomorrow|yesterday",
    "asleep|awake", "alive|dead", "birth|death", "friend friends|enemy enemies", "teacher|student",
    "employer|employee", "vertical|horizontal", "odd|even", "prime|composite", "add|subtract",
    "multiply|divide", "permanent|temporary", "online|offline", "encrypt|decrypt", "upper uppercase|lower lowercase", "junior|senior", "opaque|transparent translucent", "get|post|put|patch", "plaintiff plaintiffs prosecution|defendant defendants defense defence",
    "liberal|conservative", "democrat democrats|republican republicans", "theist|atheist",
    "introvert introverts|extrovert extroverts", "win|loss", "pro|anti", "in|out", "on|off", "up|down", "over|under",
    "ascending ascend|descending descend", "horizontally|vertically", "local locally|remote remotely",
    "client|server", "frontend front-end|backend back-end", "synchronous sync synchronously|asynchronous async asynchronously",
    "static|dynamic", "inner|outer", "prefix|suffix", "singular|plural", "increment|decrement", "encode encoding|decode decoding",
    "compress compression|decompress decompression", "install installing|uninstall uninstalling", "login|logout",
    "sunrise|sunset", "arrival arrive arriving|departure depart departing", "entry entrance|exit", "numerator|denominator",
    "import importing|export exporting", "left|right", "top highest|lowest bottom", "front|back", "forward|backward backwards",
    "attack|defend defense defence", "offense offence offensive|defense defence defensive", "predator|prey",
    "morning mornings|afternoon afternoons|evening evenings|night nights", "weekday weekdays|weekend weekends",
    "summer|winter|spring|autumn", "daily|weekly|monthly|yearly annual annually", "gross|net", "raw|cooked",
    "adult adults|child children kid kids", "boiling|freezing|melting", "lock|unlock", "zip|unzip", "follow|unfollow",
    "subscribe|unsubscribe", "hide|unhide", "mute|unmute", "block|unblock", "mount|unmount", "pause|resume",
    "all every|some", "landlord landlords|tenant tenants", "citizen citizens|resident residents",
    "loud|quiet", "tight tighten|loose loosen", "show|hide", "monday|tuesday|wednesday|thursday|friday|saturday|sunday",
    "january|february|march|april|june|july|august|september|october|november|december",  # "may" is mostly a modal
)


def _build_antonym_index() -> dict[str, list[tuple[int, int]]]:
    index: dict[str, list[tuple[int, int]]] = {}
    for g, group in enumerate(_ANTONYM_GROUPS):
        for p, pole in enumerate(group.split("|")):
            for word in pole.split():
                index.setdefault(word, []).append((g, p))
    return index


_ANTONYM_INDEX = _build_antonym_index()

_stemmer = snowballstemmer.stemmer("english")
_stemmer_lock = threading.Lock()  # a Snowball stemmer keeps its state on the object while it works


@functools.lru_cache(maxsize=262_144)
def stem(word: str) -> str:
    with _stemmer_lock:
        return _stemmer.stemWord(word)


_ANTONYM_STEM_INDEX = {stem(word): entries for word, entries in reversed(_ANTONYM_INDEX.items())}
_GRADE_SUFFIX = re.compile(r"^(\w{2,}?)(i?)(er|est)$")  # "stronger", "earliest", "lender"


def _base_forms(word: str) -> list[str]:
    """Candidate plain forms of a comparative, superlative or agent noun: "earlier" -> "earli",
    "early"; "bigger" -> "bigg", "big"; "later" -> "lat", "late"."""
    m = _GRADE_SUFFIX.match(word)
    if m is None:
        return []
    base = m.group(1)
    if m.group(2):
        return [base + "y", base + "i"]
    forms = [base, base + "e"]
    if len(base) > 2 and base[-1] == base[-2]:
        forms.append(base[:-1])
    return forms


@functools.lru_cache(maxsize=65_536)
def antonym_entries(word: str) -> tuple[tuple[int, int], ...]:
    """The (group, pole) entries of a lower-case word: by surface form, else by Snowball stem
    ("sells", "enabled"), else by its form without a grading or agent suffix ("weaker", "lender")."""
    if word in _ANTONYM_INDEX:
        return tuple(_ANTONYM_INDEX[word])
    if stem(word) in _ANTONYM_STEM_INDEX:
        return tuple(_ANTONYM_STEM_INDEX[stem(word)])
    for base in _base_forms(word):
        found = _ANTONYM_INDEX.get(base) or _ANTONYM_STEM_INDEX.get(stem(base))
        if found:
            return tuple(found)
    return ()


# A minus sign right before a number that follows no word or number is its sign ("root of -16",
# "at(-1)"), while "10-20" is a range; "the 1950s" is a decade.
_WORD = re.compile(
    r"[A-Za-z][A-Za-z'’\-]*|(?:(?<![\w.)\]])[-−])?(?:\d[\d,]*(?:\.\d+)?|(?<![\w.])\.\d+)(?:(?:st|nd|rd|th|['’]?s)(?![A-Za-z]))?|[%$€£¥₹]"
)
_NUMBER = re.compile(r"^([-−]?(?:\d[\d,]*(?:\.\d+)?|\.\d+))(?:st|nd|rd|th)?$")
_FOOT_INCH_MARK = re.compile(r"\d\s*(['’′\"”″])(?![A-Za-z0-9])")
_WORD_PREFIXES = frozenset("re pre post co de sub super un anti over under mis inter intra multi semi".split())
_DECADE = re.compile(r"^(\d+)['’]?s$")
_QUOTED = re.compile(r"\"([^\"]{1,200})\"|“([^”]{1,200})”|(?<![A-Za-z])'([^']{1,200})'(?![A-Za-z])")
_BACKTICK = re.compile(r"```(.*?)```|`([^`]+)`", re.S)
# Each branch starts only where a word (or dotted name) starts: tried inside a long word too, it
# would scan to the word's end from every letter, quadratic in the word's length.
_CODE_TOKEN = re.compile(
    r"(?<!\w)[A-Za-z_]\w*\([^)]*\)|(?<!\w)\w+(?:\.\w+)+\(?|\b\w*_\w+\b|(?<![\w.])[\w.]*[=<>!]=[\w.]*|(?<!\w)\w+(?:::|->)\w+|"
    r"(?<!\w)[/~][\w.\-]+(?:/[\w.\-]+)+|\b[A-Za-z]+\+\+|\b[A-Za-z]#|"
    r"(?<![\w-])(?=[\w-]{0,64}\d)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b"  # "psycopg2-binary", "utf-8", "gpt-4o"
)
# Operators, with the identifier they stick to: "a ?? b" is not "a?.b", "i++" is not "++i".
_OPERATOR = re.compile(r"(?<![\w?+\-*=&|<>:.])\w*(?:\?\?=?|\?\.|\+\+|--|\*\*|=>|&&|\|\||<<|>>|::|\.[*+]\??)\w*")
# An amount's SI unit with its case: "5 MW" is not "5 mW", "100 Mb/s" not "100 MB/s", "1 MΩ" not "1 mΩ".
_SI_AMOUNT = re.compile(r"\d\s*([pnµumkKMGT]?(?:Ω|Hz|Wh|W|V|A|F|bps|Bps|b/s|B/s|b|B))(?![A-Za-z])")
# "one" alone is mostly a pronoun and no number, but "one and a half" is 1.5, not "half" (0.5).
_ONE_AND_A_HALF = re.compile(r"\b(?:one|an?)(?:[\s-]+[a-z]+)?[\s-]+and[\s-]+a[\s-]+half\b", re.I)  # "a year and a half"
_PART_SPLIT = re.compile(r"[-'’]")
# Names made of letters and digits ("iPhone 6s", "PS4", "i7", "1990s") must agree exactly;
# ordinals ("5th") and amounts with a unit ("4kg", "8GB") are left to the number and unit rules.
_ALNUM = re.compile(r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]+\b")
_AMOUNT = re.compile(r"^\d+(?:st|nd|rd|th|([a-z]+))$")
# Characters prose rarely uses: other scripts, emoji, and symbols such as "#", "&" or "^". Two
# questions that differ only in them ("What does 才 mean?" vs "What does 竟然 mean?", "# vs ##")
# embed alike, so they must agree exactly. Typographic quotes, dashes and ellipses are prose.
_SYMBOLS = re.compile(r"[^\x00-\x7f‘’“”–—…•·«»]+|[#*+/<=>@\[\]^_{|}~\\&]+")


# Superscript digits are exponents: "2³" is "2^3", so "2³ + 3²" and "2² + 3³" differ in their numbers.
_SUPERSCRIPTS = str.maketrans({"⁰": "^0", "¹": "^1", "²": "^2", "³": "^3", "⁴": "^4", "⁵": "^5", "⁶": "^6", "⁷": "^7", "⁸": "^8", "⁹": "^9"})


# Ordinals keep their own values: "the third largest" is not "the three largest".
_ORDINAL_WORDS = frozenset(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth twentieth hundredth".split()
)


def _ordinal(value: str, ordinal: bool) -> str:
    return f"#{value}" if ordinal else value


def _compound_number(low: str) -> str | None:
    """ "twenty-five" -> 25, "twenty-fifth" -> #25: a hyphenated run of number words."""
    parts = low.split("-")
    values = [_NUMBER_WORDS.get(p) for p in parts]
    if len(parts) < 2 or not all(isinstance(v, int) for v in values):
        return None
    return _ordinal(f"{sum(values):g}", parts[-1] in _ORDINAL_WORDS)


def number_value(token: str) -> str | None:
    """A number's normalised value: "5" and "five" agree, "5th" and "fifth" agree ("#5")."""
    low = token.lower()
    decade = _DECADE.match(low)
    if decade:  # "20s", "1950s": a range, as "twenties"
        return f"{int(decade.group(1))}s"
    m = _NUMBER.match(low)
    if m:
        return _ordinal(f"{float(m.group(1).replace(',', '').replace('−', '-')):.12g}", m.end(1) < len(low))
    if low in _NUMBER_WORDS:
        v = _NUMBER_WORDS[low]
        return v if isinstance(v, str) else _ordinal(f"{v:g}", low in _ORDINAL_WORDS)
    if low in _ROMAN and token.isupper():
        return f"{_ROMAN[low]:g}"
    return _compound_number(low) if "-" in low else None


def _is_amount(token: str) -> bool:
    m = _AMOUNT.match(token)
    return m is not None and (m.group(1) is None or m.group(1) in _UNITS)


# Numbers joined by a coordinator ("3 and 5", "2, 4 or 8") may come in any order; a list or tuple
# with commas alone, or a spelled number ("2, 4, 8", "(3, -4)", "three hundred and two"), keeps its order.
_LIST_JOIN = re.compile(r"\s*,\s*|\s*,?\s*(?:and|or|vs\.?|versus|&)\s+", re.I)
_COORDINATOR_JOIN = re.compile(r"\s*,?\s*(?:and|or|vs\.?|versus|&)\s+", re.I)
_MAGNITUDES = frozenset("hundred thousand million billion trillion".split())
# A question that asks both ways ("with or without sugar", "... or not?") is not the one-way question.
_EITHER_WAY = re.compile(r"\bwith\s*(?:or|/)\s*without\b|\bor\s+not\b", re.I)
_UNIVERSAL = frozenset("all every each".split())
_ALL_TIME = re.compile(r"\s+time\b", re.I)  # "of all time", like "at all", quantifies nothing
# "all day" is a duration (non-stop), "every day" a frequency (daily).
_COUNTING = re.compile(r"\bhow\s+(?:many|much|long|far|often|big|old|tall|heavy|fast)\b", re.I)
_PER_UNIT = frozenset("each every".split())
_EXCEPTION = re.compile(r"\b(?:all|every|each|everything|everyone)\b[^?.!]*?\b(?:but|except|apart\s+from|other\s+than)\b", re.I)
_PARTITIVE = re.compile(r"\b(?:one\s+of\s+(?:the|my|your|his|her|our|their|\w+['’]s?)|among\s+the)(?!\w)", re.I)
_SPAN_OF_TIME = re.compile(r"\s+(?:day|night|week|month|year|morning|evening|afternoon|weekend|summer|winter)\b", re.I)
# Forms with a sense of their own, each against the base it must not be served for: plurals
# ("glasses" / "glass") and -ing nouns ("a painting" / "paint", "fishing" / "fish", "the building").
_SENSE_FORMS = dict(pair.split("/") for pair in (
    # plurals
    "glasses/glass spectacles/spectacle damages/damage arms/arm customs/custom manners/manner grounds/ground "
    "times/time goods/good works/work papers/paper spirits/spirit shingles/shingle hives/hive braces/brace scrubs/scrub "
    "terms/term springs/spring peppers/pepper mints/mint "
    # -ing nouns
    "painting/paint paintings/paint fishing/fish building/build buildings/build drawing/draw drawings/draw "
    "setting/set settings/set ending/end endings/end meaning/mean meanings/mean savings/save earnings/earn "
    "clothing/cloth housing/house parking/park shipping/ship lighting/light marketing/market banking/bank "
    "booking/book bookings/book mining/mine boxing/box wedding/wed weddings/wed timing/time findings/find "
    "belongings/belong surroundings/surround icing/ice dressing/dress heading/head headings/head landing/land "
    "listing/list listings/list recording/record recordings/record trading/trade bearing/bear bearings/bear "
    "rating/rate ratings/rate meeting/meet bedding/bed smoking/smoke ruling/rule rulings/rule linking/link "
    "mapping/map indexing/index typing/type skiing/ski skating/skate boating/boat camping/camp funding/fund "
    "drinking/drink stocking/stock nursing/nurse weathering/weather factoring/factor spelling/spell "
    "teething/teeth filling/fill fillings/fill counseling/counsel logging/log packaging/package frosting/frost "
    "versioning/version flooring/floor responsible/response "
    "seasoning/season wiring/wire "
    # identifiers the stemmer folds together
    "finally/final finalize/final authorize/author globals/global locals/local serialize/serial vectorize/vector "
    # adjectives the stemmer folds into a noun of another sense
    "germanic/german democratic/democrat athletic/athlete helpful/help"
).split())
_PAUCAL = re.compile(r"\b(?:few|little)\b", re.IGNORECASE)
_SOME_PAUCAL = re.compile(r"\b(?:a|the)\s+(?:few|little)\b", re.IGNORECASE)
# A base right after these is a verb ("learn to paint", "how do I fish"): the -ing noun of the
# activity asks the same ("learn painting"); "the best paint" against "the best painting" does not.
_VERB_LEAD = frozenset("to can could will would should must i you we they".split())  # not "do": "How do fish breathe?"
# A word right after these is a thing asked about: "What routing does the app use?" (a method) is
# not "What route does the app use?".
_NOUN_LEAD = frozenset("what which the a an this that my your our their its best top good great".split())


@dataclass(frozen=True)
class Facts:
    """The hard facts of one question that another must share to get its answer."""

    numbers: tuple[str, ...]  # sorted
    number_order: tuple[str, ...]  # in text order, each run of joined numbers sorted
    units: frozenset[str]
    amounts: frozenset[tuple[str, str]]  # each number with the unit written at it
    negations: int
    either_way: int  # "with or without", "or not"
    # (universal "all"/"every"/"each", "every other", durations "all day", "each" / "every" in a count
    # ("how many senators does each state have" asks per state, "... do all states have" the total),
    # partitives "one of the" / "among the" ("one of the largest animals" is not "the largest animal"),
    # exceptions to a universal ("stop all containers but one"))
    quantifiers: tuple[int, int, int, int, int, int]
    polarity: int  # words such as "stop", "avoid", "against"
    antonyms: tuple[tuple[int, int, int], ...]  # (group, pole, occurrences), sorted
    entities: frozenset[str]
    words: frozenset[str]  # every word, lower-cased: an entity of one text must occur in the other
    quoted: frozenset[str]
    payload: str  # the text a question asks about after a colon ("... in this sentence: the cat sat"), as written
    code: frozenset[str]
    short_names: frozenset[str]  # short words with capitals, as written ("CO", "Co")
    grade: str  # "a good one" ("a good / great X"), "superlative" ("the best / top / greatest X") or ""
    symbols: tuple[str, ...]  # runs of other scripts and of unusual symbols, in text order ("東京 ... 大阪")
    as_verb: frozenset[str] = frozenset()  # words right after "to", a modal or a subject pronoun
    paucal: tuple[int, int] = (0, 0)  # ("few" / "little" alone: hardly any, "a few" / "a little": some)
    spans: tuple[str, ...] = ()  # code spans as written, sorted: see code_spans
    cased: tuple[str, ...] = ()  # unit and type names whose case is their meaning: see _cased_terms
    as_noun: frozenset[str] = frozenset()  # words right after "what", "which" or a determiner
    # in a question about code (see _technical): each cased identifier's forms in text order, quote marks, cron expressions
    technical: tuple[dict[str, tuple[str, ...]], str, tuple[str, ...]] | None = None


_POSSESSIVE = re.compile(r"(?<=\w)'s?$")


def _norm_word(word: str) -> str:
    return word.lower().replace("’", "'").strip("'-")


def _number_order(prose: str, found: list[tuple[re.Match[str], str]]) -> tuple[str, ...]:
    """Number values in text order; a run joined by commas and a coordinator is sorted ("and" after
    a magnitude word is part of the number: "three hundred and two")."""
    runs: list[tuple[list[str], bool]] = []  # (values, joined by a coordinator somewhere)
    previous: re.Match[str] | None = None
    for match, value in found:
        join = _joined(prose, previous, match) if previous is not None and previous.group(0).lower() not in _MAGNITUDES else None
        if join is not None:
            runs[-1] = (runs[-1][0] + [value], runs[-1][1] or _COORDINATOR_JOIN.fullmatch(join.group(0)) is not None)
        else:
            runs.append(([value], False))
        previous = match
    return tuple(v for values, coordinated in runs for v in (sorted(values) if coordinated else values))


# "one" is mostly a pronoun ("which one"); it counts as 1 beside a number word or digit, or in
# arithmetic: "twenty one", "one hundred and one", "one divided by zero", "one or two glasses".
_ONE_CONTEXT = frozenset("plus minus times divided over power squared cubed or and to by".split())
# "one" after these counts ("rent a one bedroom", "miss one payment", "more than one"); elsewhere it
# is mostly a pronoun ("which one", "one should").
_ONE_COUNTED_AFTER = frozenset("a only just exactly than miss missed skip skipped take took eat ate drink buy bought per "
                               "forget forgot have has having had".split())


def _counts_one(prose: str, match: re.Match[str]) -> bool:
    def words(text: str) -> list[str]:
        return [w.lower().strip(",.?!;:") for w in text.split()]

    before = words(prose[max(0, match.start() - 40) : match.start()])[-2:]
    after = words(prose[match.end() : match.end() + 40])[:1]
    if any(number_value(w) is not None for w in before[-1:] + after):
        return True
    if before[-1:] in (["and"], ["or"]) and len(before) == 2 and number_value(before[0]) is not None:
        return True  # "one hundred and one", "two or one"
    if before and before[-1] in _ONE_COUNTED_AFTER and after and after[0] not in ("of", "another"):
        return True
    return bool(after) and after[0] in _ONE_CONTEXT and after[0] != "and"


_A_GOOD_ONE = re.compile(r"\ban?\s+(?:good|great|decent|nice|reasonable|healthy|normal)\b", re.I)
_SUPERLATIVE = re.compile(r"\b(?:best|top|greatest|highest|finest|ideal|optimal|perfect)\b", re.I)


def _grade(prose: str) -> str:
    if _A_GOOD_ONE.search(prose):
        return "a good one"
    return "superlative" if _SUPERLATIVE.search(prose) else ""


def _recased(a: frozenset[str], b: frozenset[str]) -> bool:
    """The same short name capitalised otherwise on each side ("CO" carbon monoxide / "Co" cobalt,
    "HF" / "Hf"); one written all in lower case ("mit" for "MIT") is just sloppy typing."""
    lowered = {x.lower(): x for x in b}
    return any(x.lower() in lowered and lowered[x.lower()] != x for x in a)


def _joined(prose: str, before: re.Match[str], after: re.Match[str]) -> re.Match[str] | None:
    """The comma or coordinator joining two numbers into a list, if that is all between them
    ("2," holds its comma, since "2,000" is one number: the gap starts at it)."""
    return _LIST_JOIN.fullmatch(prose, before.end() - before.group(0).endswith(","), after.start())


def _in_list(prose: str, numbers: list[tuple[re.Match[str], str]]) -> bool:
    """Whether the last number found closes a list ("2, 4 or 8"): a unit after it is the list's."""
    return len(numbers) >= 2 and _joined(prose, numbers[-2][0], numbers[-1][0]) is not None


_COLON = re.compile(r":\s+")
_CURRENCY_SIGNS = frozenset("$€£¥₹")
# Tokens whose letter case is their meaning: command-line flags, regex escapes, format codes.
_CASED = re.compile(r"(?<![\w-])--?[A-Za-z]{1,3}\b|\\[A-Za-z]\b|%[A-Za-z]\b")
# Grouping and factorials change a calculation: "(a+b)^2" is not "a+b^2", "(3, -4)" not "(-4, 3)".
_GROUPED_MATH = re.compile(r"\((?=[^()\n]{0,120}\w)[^()\n]{0,60}[\d+\-*/^=,][^()\n]{0,60}\)|\b\d+!")
# Short names with capitals ("CO" carbon monoxide, "Co" cobalt, "HF" / "Hf"): compared as written.
_SHORT_NAME = re.compile(r"\b(?=\w{0,2}[A-Z])[A-Za-z]{1,3}\b(?!['’])")


def colon_payload(text: str) -> str:
    """What follows the first colon when it is no question of its own: text the question is about
    ("Is this sentence grammatical: Its raining.", "Convert to upper case: hello world"). Its
    letter case and every character count. "" when there is none ("Chemistry: How do I ...?")."""
    parts = _COLON.split(text.strip(), maxsplit=1)
    if len(parts) < 2 or parts[1].rstrip().endswith(("?", "？")):
        return ""
    return parts[1].strip()


@functools.lru_cache(maxsize=65_536)  # cached questions are checked again and again
def extract_facts(text: str) -> Facts:
    code = {re.sub(r"\s+", " ", (a or b).strip()) for a, b in _BACKTICK.findall(text)}
    prose = _BACKTICK.sub(" ", text).translate(_SUPERSCRIPTS)
    code |= {m.group(0).strip() for m in _CODE_TOKEN.finditer(prose)}
    operators = [m.group(0) for m in _OPERATOR.finditer(prose)]
    code |= set(operators)
    if len(set(operators)) > 1:  # their order too: "is i++ faster than ++i" is not "is ++i faster than i++"
        code.add("operators in order: " + " ".join(operators))
    one_and_a_half = {m.start(): m.end() for m in _ONE_AND_A_HALF.finditer(prose)}
    code |= {t for t in (m.group(0).lower() for m in _ALNUM.finditer(prose)) if not _is_amount(t)}
    code |= {m.group(0) for m in _CASED.finditer(prose)}  # "-r" / "-R", "\\d" / "\\D", "%m" / "%M": case and all
    code |= {re.sub(r"\s+", "", m.group(0)) for m in _GROUPED_MATH.finditer(prose)}  # "(a+b)^2", "(3, -4)", "10!"
    short_names = {m.group(0) for m in _SHORT_NAME.finditer(prose)
                   if m.group(0) != "I" and m.group(0).lower() not in _UNITS and not _SI_UNIT.match(m.group(0).lower())
                   and (any(c.isupper() for c in m.group(0)[1:]) or not _starts_sentence(prose, m.start()))}
    quoted = {re.sub(r"\s+", " ", next(g for g in groups if g)).strip().lower() for groups in _QUOTED.findall(prose)}

    numbers: list[tuple[re.Match[str], str]] = []
    units: set[str] = set()
    negations = polarity = universal = every_other = durations = per_unit = 0
    counting = _COUNTING.search(prose) is not None
    antonyms: Counter[tuple[int, int]] = Counter()
    entities: set[str] = set()
    words: set[str] = set()
    as_verb: set[str] = set()
    as_noun: set[str] = set()
    previous = ""
    previous_value: str | None = None
    amounts: set[tuple[str, str]] = set()  # (number, its unit): "$100 in €" is not "€100 in $"
    for match in _WORD.finditer(prose):
        token = match.group(0)
        word = _norm_word(token)
        if match.start() in one_and_a_half:
            value = "1.5"
        elif any(start < match.start() < end for start, end in one_and_a_half.items()):
            value = None  # the "half" of "one and a half"
        else:
            value = number_value(token)
            if value is None and "-" in token:  # "two-bedroom", "second-hand", "mid-twenties", "one-to-many"
                parts = [number_value(p) or ("1" if p.lower() == "one" else None) for p in token.split("-")]
                for part in parts:
                    if part is not None:
                        numbers.append((match, part))
                if any(part is not None for part in parts):
                    code.add(token.lower())  # "one-to-many" is not "many-to-one"
            elif value is None and word == "one" and _counts_one(prose, match):
                value = "1"
        if value is not None:
            numbers.append((match, value))
        if "-" in token and token.split("-", 1)[0].lower() in _WORD_PREFIXES:
            code.add(token.lower())  # "re-freeze" is not "freeze", "pre-tax" not "tax"
        compact = word.replace("'", "")
        if value is not None and previous in _CURRENCY_SIGNS:
            amounts.add((value, previous))
        elif previous_value is not None and (compact in _UNITS or _SI_UNIT.match(compact)):
            amounts.add(("a list" if _in_list(prose, numbers) else previous_value, compact))  # "2, 4 or 8 GB"
        previous_value = value
        if word in _UNITS or compact in _UNITS or token in "%$€£¥₹" or _SI_UNIT.match(compact):
            # "Gbps" is bits, "GBps" bytes per second: eight times apart, told only by the case of the B
            units.add(compact + ":bytes" if compact.endswith("bps") and "B" in token else compact or token)
        if compact in _NEGATIONS or word.endswith("n't"):
            negations += 1
        polarity += compact in _POLARITY
        if compact == "other" and previous == "every":
            every_other, universal = every_other + 1, universal - 1
        per_unit += counting and compact in _PER_UNIT
        if compact == "all" and _SPAN_OF_TIME.match(prose, match.end()):
            durations += 1
        else:
            universal += compact in _UNIVERSAL and previous != "at" and not _ALL_TIME.match(prose, match.end())
        if previous in _VERB_LEAD:
            as_verb.add(compact)
        elif previous in _NOUN_LEAD:
            as_noun.add(compact)
        previous = compact
        words.add(compact)
        # "25-year-old", "ice-cold", "today's", "man's": look at each part of the token.
        for part in _PART_SPLIT.split(word):
            if part == "non" and part != compact:  # "non-leap year" is not a leap year ("non" alone: counted above)
                negations += 1
            if part and part not in ("s", "t"):
                antonyms.update(antonym_entries(part))
                words.add(part)
        starts_sentence = _starts_sentence(prose, match.start())
        is_named = token[:1].isupper() and not starts_sentence and token not in ("I", "I'm", "I've", "I'd", "I'll")
        mixed = any(c.isupper() for c in token[1:]) and any(c.islower() for c in token)  # iPhone, GitHub
        if (is_named or mixed) and value is None:
            entities.add(_POSSESSIVE.sub("", word).replace("'", ""))  # "Heisenberg's principle" names Heisenberg
    units |= {"si:" + m.group(1) for m in _SI_AMOUNT.finditer(prose)}
    units |= {"ft" if m.group(1) in "'’′" else "inch" for m in _FOOT_INCH_MARK.finditer(text)}  # 6' is 6 ft, 6" is 6 inches
    symbols = tuple(m.group(0).lower() for m in _SYMBOLS.finditer(text))
    values = [v for _, v in numbers]
    return Facts(tuple(sorted(values)), _number_order(prose, numbers), frozenset(units), frozenset(amounts), negations,
                 len(_EITHER_WAY.findall(prose)),
                 (universal, every_other, durations, per_unit, len(_PARTITIVE.findall(prose)), len(_EXCEPTION.findall(prose))),
                 polarity,
                 tuple(sorted((g, p, n) for (g, p), n in antonyms.items())), frozenset(entities), frozenset(words),
                 frozenset(quoted), colon_payload(text), frozenset(code), frozenset(short_names), _grade(prose), symbols, frozenset(as_verb),
                 _paucal(prose), code_spans(text), _cased_terms(prose), frozenset(as_noun), _technical(text))


def _starts_sentence(prose: str, start: int) -> bool:
    r"""Nothing before the word, or only whitespace since a sentence mark or a line break: what
    `[.!?:;\n]\s*$` says of the text before it, read backwards over the gap only (searching the
    whole prefix for every word was quadratic in the question's length)."""
    if start == 0:
        return True
    i = start
    while i > 0 and prose[i - 1].isspace():
        if prose[i - 1] == "\n":
            return True
        i -= 1
    return i > 0 and prose[i - 1] in ".!?:;"


def _poles(counts: tuple[tuple[int, int, int], ...]) -> dict[int, dict[int, int]]:
    by_group: dict[int, dict[int, int]] = {}
    for group, pole, n in counts:
        by_group.setdefault(group, {})[pole] = n
    return by_group


_NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non")
# Prefixes and suffixes that make opposites of one stem ("overestimate" / "underestimate",
# "prenatal" / "postnatal", "whitelist" / "blacklist", "useful" / "useless").
_OPPOSITE_PREFIXES = (("over", "under"), ("out", "under"), ("pre", "post"), ("white", "black"), ("up", "down"), ("in", "out"),
                      ("in", "ex"), ("im", "ex"), ("hyper", "hypo"), ("inter", "intra"), ("max", "min"),
                      ("north", "south"), ("east", "west"), ("exo", "endo"))
_OPPOSITE_SUFFIXES = (("ful", "less"),)


def _negated_by_prefix(words: frozenset[str], others: frozenset[str]) -> bool:
    """A word of one question is a word of the other with a negating prefix ("valid" / "invalid",
    "cooked" / "uncooked") or the "-less" suffix ("wireless" / "wire"), the plain word missing
    from the first: the questions are opposites."""
    only_here, only_there = words - others, others - words
    for word in only_here:
        for prefix in _NEGATING_PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 4 and word[len(prefix) :] in only_there:
                return True
        if word.endswith("less") and len(word) >= 7 and word[:-4] in only_there:
            return True
    return False


def _opposite_affixes(words: frozenset[str], others: frozenset[str]) -> bool:
    """A word of one question and a word of the other share a stem of at least three letters
    under opposite prefixes or suffixes ("overestimate" / "underestimate", "useful" / "useless")."""
    only_here, only_there = words - others, others - words
    for word in only_here:
        for first, second in _OPPOSITE_PREFIXES:
            for a, b in ((first, second), (second, first)):
                rest = word[len(a) :]
                if word.startswith(a) and len(rest) >= 3 and b + rest in only_there:
                    return True
        for first, second in _OPPOSITE_SUFFIXES:
            if word.endswith(first) and len(word) - len(first) >= 3 and word[: -len(first)] + second in only_there:
                return True
    return False


# A word with a code character in it ("a[-1:]", "$$", "main..feature", "./", "1,5", "08") or a lone
# mark ("...", ",", "'", "-") is code: its characters are the question. Prose punctuation is not:
# marks around a word ("waves?", "(or", "sizes)", "“Karma”"), a lone sentence mark (" . ", " .? "),
# apostrophes and hyphens inside words, and numbers and amounts (the guard compares their values).
_SPAN_CHARS = re.compile(r"[^\w\s]|^0\d")
_PROSE_WORD = re.compile(r"^[^\W\d_]+(?:['’-][^\W\d_]+)*$")
_PLAIN_AMOUNT = re.compile(r"^[$€£¥₹]?[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?[$€£¥₹%]?$")
_SENTENCE_MARKS = re.compile(r"^(?:[.?]|\.\?|\?\.)$")
_TYPOGRAPHIC = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "—": "-", "–": "-", "…": "..."})


def code_spans(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of `text` that are code, as written, sorted."""
    spans = []
    tokens = text.translate(_TYPOGRAPHIC).split()
    for i, token in enumerate(tokens):
        # "?" and "!" end a sentence at the end or before a capital ("waves? What"), else they are
        # code ("What does x! mean in Swift?").
        ends_sentence = i + 1 == len(tokens) or tokens[i + 1][:1].isupper()
        core = token.rstrip(".,;:?!" if ends_sentence else ".,;:").strip("'\"()") or token
        if _PROSE_WORD.match(core) or (_PLAIN_AMOUNT.match(core) and not core.startswith("0")) or _SENTENCE_MARKS.match(token):
            continue
        if _SPAN_CHARS.search(core):
            spans.append(core)
    return tuple(sorted(spans))


# Data sizes and powers whose case is their meaning: "MB" (bytes) is not "Mb" (bits), "MW" (mega)
# not "mW" (milli). All lower case ("gb", "mw") reads as the usual one: bytes, mega.
_UNIT_TOKEN = re.compile(r"\b([kKmMgGtTpP])(b|B|w|W|wh|Wh|Hz|hz)(ps|/s)?\b")
# Type names a language tells apart by case: Java's "Integer" (a boxed object) is not "integer",
# JavaScript's "Map" and "Set" are not "map" and "set". Compared as written where not opening the question.
_CASED_TYPES = re.compile(r"(?<=\w[\s(])(?:[Bb]oolean|[Ii]nteger|[Dd]ouble|[Ll]ong|[Ff]loat|[Cc]haracter|[Ss]hort|[Bb]yte|[Mm]ap|[Ss]et|"
                          r"[Ss]tring|[Oo]bject|[Ff]unction|[Nn]umber|[Ss]ymbol)\b")  # TypeScript: String / string


def _cased_terms(prose: str) -> tuple[str, ...]:
    """Unit and type names whose case carries their meaning, as written (lower-case units read as
    the usual one), in text order."""
    terms: list[str] = []
    for m in sorted([*_UNIT_TOKEN.finditer(prose), *_CASED_TYPES.finditer(prose)], key=lambda m: m.start()):
        term = m.group(0)
        if m.re is _UNIT_TOKEN:
            prefix, unit, rate = m.group(1), m.group(2), m.group(3) or ""
            if term.islower():
                prefix, unit = prefix.upper() if prefix != "k" else prefix, {"b": "B", "w": "W", "wh": "Wh", "hz": "Hz"}[unit]
            term = prefix + unit + rate
        if term not in terms:
            terms.append(term)
    return tuple(terms)


_TECH_CONTEXT = re.compile(
    r"\b(?:json|yaml|toml|xml|sql|postgres(?:ql)?|mysql|sqlite|snowflake|oracle|bash|zsh|shell|powershell|linux|unix|"
    r"python|java|javascript|typescript|golang|go|rust|ruby|php|perl|kotlin|swift|scala|kubernetes|k8s|kubectl|docker|"
    r"terraform|aws|s3|git|npm|pip|cron|crontab|regex|api|http|env|column|columns|function|method|variable|field|key|"
    r"bucket|package|module|string|boolean|identifier|query|jenkins|groovy|ssh|echo|grep|awk|sed|rm|trap|makefile|"
    r"curl|select|import|importerror|jsx|react|ansible|command|class|type|struct|interface|enum|lint|linter|golint|"
    r"eslint|exported|compiler|sql\s+server)\b|\$\{?\w", re.I)
_LITERALS = frozenset("true false null none nil nan undefined".split())
_IDENTIFIER = re.compile(r"(?<![\w$])[A-Za-z_][A-Za-z0-9_]*")
_QUOTE_MARK = re.compile(r"(?<![A-Za-z0-9])['\"](?=\S)")
_CRON = re.compile(r"(?<!\S)(?:[\d*/,?LW#-]+\s+){4,5}[\d*/,?LW#-]+(?!\S)")


def _case_matters(text: str, m: re.Match[str]) -> bool:
    word = m.group(0)
    return (any(c.isupper() for c in word[1:]) or word.lower() in _LITERALS or (len(word) > 1 and word.isupper())
            or (word[:1].isupper() and not _starts_sentence(text, m.start()) and not _TECH_CONTEXT.fullmatch(word)))


def _technical(text: str) -> tuple[dict[str, tuple[str, ...]], str, tuple[str, ...]] | None:
    """In a question about code (a language, a tool, a data format), what its letter case and quotes
    say: each identifier whose case is part of it (internal capitals "getUser" / "GetUser", all
    capitals "PATH" / "Path", literals "True" / "true", a capital inside a sentence "the Name field"
    / "the name field", but for the languages and tools themselves: "Python" is "python"), the
    quote marks in text order ('$HOME' is not "$HOME"), and cron expressions as written ("0 * * * *"
    is not "* 0 * * *"); None elsewhere."""
    if not (_TECH_CONTEXT.search(text) or _CRON.search(text)):
        return None
    mentions = list(_IDENTIFIER.finditer(text))
    quoted = " ".join(next(g for g in groups if g) for groups in _QUOTED.findall(text))
    lowered = ({m.group(0).lower() for m in mentions if _case_matters(text, m)}
               | {w.lower() for w in _IDENTIFIER.findall(quoted) if w[:1].isupper()})
    forms: dict[str, tuple[str, ...]] = {}
    for m in mentions:  # every mention, in order: "FOO vs foo" is not "FOO vs FOO"
        if m.group(0).lower() in lowered:
            forms[m.group(0).lower()] = (*forms.get(m.group(0).lower(), ()), m.group(0))
    quotes = "".join(m.group(0) for m in _QUOTE_MARK.finditer(text))
    return forms, quotes, tuple(m.group(0) for m in _CRON.finditer(text))


def _same_technical(a: Facts, b: Facts) -> bool:
    """An identifier one question writes with its case ("HEAD", "getUser", "True") is written alike
    where the other names it too, and quotes and cron expressions agree."""
    if a.technical is None or b.technical is None:
        return True
    (forms_a, quotes_a, crons_a), (forms_b, quotes_b, crons_b) = a.technical, b.technical
    for forms_one, other, forms_other in ((forms_a, b, forms_b), (forms_b, a, forms_a)):
        if any(w in other.words and forms_other.get(w) != written for w, written in forms_one.items()):
            return False
    return quotes_a == quotes_b and crons_a == crons_b


def _same_case(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Every cased term both questions use is written alike in both, and the same terms come in the
    same order ("How many GB in a Gb?" is not "How many Gb in a GB?")."""
    common = {t.lower() for t in a} & {t.lower() for t in b}
    if not all({t for t in a if t.lower() == w} == {t for t in b if t.lower() == w} for w in common):
        return False
    return set(a) != set(b) or a == b


def _paucal(prose: str) -> tuple[int, int]:
    """How often "few" / "little" stand alone (hardly any) and after "a" / "the" (some)."""
    some = len(_SOME_PAUCAL.findall(prose))
    return len(_PAUCAL.findall(prose)) - some, some


def _ing_bases(word: str) -> tuple[str, ...]:
    """The bases an -ing form may come from: "routing" -> rout, route; "tagging" -> tagg, tag."""
    if not word.endswith("ing") or len(word) < 6:
        return ()
    root = word[:-3]
    return (root, root + "e", root[:-1]) if root[-1:] == root[-2:-1] else (root, root + "e")


def _method_noun(a: Facts, b: Facts) -> bool:
    """An -ing noun against its base noun, both asked about as things: "What routing does the app
    use?" (the method) is not "What route does the app use?" (one route)."""
    return any(base in b.as_noun - a.words for w in a.as_noun - b.words for base in _ing_bases(w))


def _own_sense(a: Facts, b: Facts) -> bool:
    """A form with a sense of its own ("glasses", "painting", "finalize") meets its base ("glass",
    "paint", "final") or another such form of it ("finally") in the other; for an -ing noun, not
    where the base is a verb ("learn to paint")."""
    only_b = b.words - a.words
    return any((any(f in only_b for f in (base, base + "s", base + "es")) and not (form.endswith(("ing", "ings")) and base in b.as_verb))
               or any(_SENSE_FORMS.get(other) == base for other in only_b)  # "finally" / "finalize"
               for form, base in _SENSE_FORMS.items() if form in a.words - b.words)


def disagreement(a: Facts, b: Facts) -> str | None:
    """None when the facts agree, else the first kind of fact that differs."""
    if Counter(a.numbers) != Counter(b.numbers):
        return "numbers"
    if a.number_order != b.number_order:
        return "number order"
    if a.units != b.units or a.amounts != b.amounts:
        return "units"
    if a.negations != b.negations or a.either_way != b.either_way:
        return "negation"
    if a.quantifiers != b.quantifiers or (sum(a.paucal) and sum(b.paucal) and a.paucal != b.paucal):
        return "quantifiers"
    if a.polarity != b.polarity:
        return "polarity"
    poles_a, poles_b = _poles(a.antonyms), _poles(b.antonyms)
    if any(poles_a[g] != poles_b[g] for g in poles_a.keys() & poles_b.keys()):
        return "antonyms"
    for one, other in ((a, b), (b, a)):
        if _negated_by_prefix(one.words, other.words) or _opposite_affixes(one.words, other.words):
            return "antonyms"
        if _own_sense(one, other) or _method_noun(one, other):
            return "word senses"
    if not a.entities <= b.words or not b.entities <= a.words:
        return "entities"
    if a.quoted != b.quoted or a.payload != b.payload:
        return "quoted"
    if {a.grade, b.grade} == {"a good one", "superlative"}:
        return "antonyms"  # "a good credit score" (a threshold) is not "the best credit score" (the top)
    if a.code != b.code or _recased(a.short_names, b.short_names):
        return "code"
    if a.symbols != b.symbols:
        return "symbols"
    if a.spans != b.spans or not _same_case(a.cased, b.cased) or not _same_technical(a, b):
        return "code"
    return None


# Words that, added to a question, invert or bound what it asks: "least favorite", "lowest rated",
# "gluten-free", "fewer", and words placing it in time ("tomorrow night", "this weekend").
_INVERTING_WORDS = frozenset("free less least fewer fewest lowest worst minimum today tonight tomorrow yesterday".split())


def is_contrast_word(word: str) -> bool:
    """A word that changes what is asked even when the other question merely lacks it: an
    inverting or time word (see _INVERTING_WORDS) or a "-less" word ("useless")."""
    low = word.lower()
    return low in _INVERTING_WORDS or (low.endswith("less") and len(low) >= 7)


def facts_agree(cached_question: str, new_question: str) -> bool:
    return disagreement(extract_facts(cached_question), extract_facts(new_question)) is None

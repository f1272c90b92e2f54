"""Word-level views of a question that the semantic match rule compares.

- content words: lower-cased words minus function words, each with its Snowball stem, so
  "companies" meets "company" and "learning" meets "learn";
- light words: words that do not change what is asked ("really", "exactly", "some") or only
  grade it ("good", "best", "top": one class, while "best" vs "worst" is the guard's antonym rule);
- question type: the wh-words a question asks with, or "yes/no" and its mood for one that opens
  with an auxiliary verb ("Is X humble?" is not "Why is X humble?", "Can dogs eat grapes?" is not
  "Do dogs eat grapes?");
- tense and modality: the tenses of every auxiliary (past "was"/"did", future "will", the perfect
  of "has hit", "being built" under way) must agree ("Who was the CEO?" is not "Who is the CEO?"),
  and so must the modalities (ability "can", obligation "should"/"must", possibility "may"/"might"),
  a modal on one side only included ("Which columns can be null?" is not "Which columns are
  null?"), but for a lone "would" and a "should" that asks the asker what to do ("How long should
  I boil an egg?"); the auxiliary of a how-to frame ("How do / can / should I ...", "How can a
  teacher ...") is left out;
- grammatical persons in the order they first appear ("my website" is not "your website",
  "Does she love him?" is not "Does he love her?"; "he" and "she" are apart), the order of
  shared content words ("convert A to B" is not "convert B to A") and the voice ("directors
  influenced by Herzog" is not "directors who influenced Herzog");
- roles carried by function words: a word both questions mark with opposite role markers
  ("to Canada" / "from Canada", "sent to me" / "sent by me", "a song for" / "a song about",
  "books by" / "books about", "since 2014" / "in 2014", "if it snows" / "unless it snows",
  "a while loop" / "a for loop"; before a place or a time: "travel to / in Europe", "open until /
  at 10 pm"; in a "who" question or a short one the article: "won the / a Nobel Prize", "what is
  the / a cloud"), a word one question makes a target and the other a bare object ("convert to a
  PDF" / "convert a PDF"), two words one joins with "and", the other with "or" or links with "as"
  ("use Postgres and / as a queue"), and a preposition left at the end ("What do fish breathe
  with?");
- light words that carry the meaning of this question are kept: "What is Tokyo like?", "apps
  like Tinder", a "one way" ticket, "many" / "much" in a yes/no question.
All of it is plain string work on two short texts (tens of microseconds), cached per text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cache.guard import NEGATION_WORDS, number_value, stem
from cache.lexicon import (
    ARTICLE_ROLES,
    ARTICLES,
    ASKERS,
    BARE_PASTS,
    COMMANDS,
    CONSTRUCTS,
    COORDINATORS,
    DEFINITE_NOUNS,
    DERIVATIONS,
    DETERMINERS,
    DO_FORMS,
    DO_SUBJECTS,
    FILLER_WORDS,
    FIXED_TO,
    FUNCTION_WORDS,
    GENERIC_SUBJECTS,
    GRADE_WORDS,
    HAVE_FORMS,
    HAVE_OBJECT_LEADS,
    HOW_MANNER_FOLLOWERS,
    IRREGULAR_PARTICIPLES,
    KEYWORD_LEADS,
    KEYWORD_NOUNS,
    KEYWORD_VERBS,
    KEYWORDS,
    LETTER_NAMES,
    LINK_MARKERS,
    MEANS_WORDS,
    MEASURE_GRADES,
    MEASURES,
    MODALS,
    NAMING_GRADES,
    OBJECT_FORMS,
    OPPOSITE_ROLES,
    PERSONS,
    PLACE_ROLES,
    PREPOSITIONS,
    PROCEDURE_AUXILIARIES,
    QUESTION_WORDS,
    REFLEXIVES,
    ROLE_MARKERS,
    SHORT_QUESTION,
    STRANDABLE,
    SUBJECT_PRONOUNS,
    TARGET_MARKERS,
    TENSES,
    TERM_LIGHT,
    TIME_ROLES,
    TIME_WORDS,
    TO_OF,
    TO_OR_ING_VERBS,
    VERB_LEADS,
    WH_SUBJECTS,
    WHERE_ROLES,
    YES_NO_MOODS,
    YES_NO_QUANTIFIERS,
)
from cache.places import PLACE_NAMES
from cache.word_forms import word_key

_NOT = "¬"  # a negation's place in LexicalView.stream
_FEEL = frozenset("feel feels felt".split())
_SOMEONE = next(i for i, p in enumerate(PERSONS) if "someone" in p)
_ITS = next(i for i, p in enumerate(PERSONS) if "its" in p)
_ASKER_OR_ASKED = frozenset(i for i, p in enumerate(PERSONS) if p & {"i", "you", "we"})
_GENERIC = len(PERSONS)  # the generic agent of a how-to question, in LexicalView.persons
_GENERIC_OBJECT = _GENERIC + 1  # ... where it is the object ("if he loves me")
_TOKEN = re.compile(r"[a-z0-9]+")
# A passive with its agent ("directors who were influenced by Herzog", "What is cut by a diamond?",
# "Who was Alice hit by?") reverses who does what compared with the active form ("directors who
# influenced Herzog") while keeping the word order.
_PASSIVE_AGENT = re.compile(r"\b(?:is|are|was|were|be|been|being|get|gets|got|gotten)\s+(?:\w+ly\s+)?\w+\s+by\b|\bby$")
_APOSTROPHE = re.compile(r"['’]")



# A request for the reason (or the means) after the question itself: "What is your favorite
# book and why?", "Do you believe in an afterlife? If so, why?".
_REASON_TAIL = re.compile(
    r"(?:[\s,;]+(?:and|&)\s+why(?:\s+not)?|\?\s*(?:why(?:,?\s+or\s+why)?(?:\s+not)?|how\s+so"
    r"|if\s+(?:so|yes|not),?\s+(?:why|how)(?:\s+not)?))\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def without_reason_request(text: str) -> str:
    """`text` without a trailing request for the reason ("... and why?", "...? Why?"); unchanged
    when it has none. An answer that gives the reason too also answers the question without it,
    not the other way round."""
    cut = _REASON_TAIL.search(text)
    if cut is None or cut.start() == 0:
        return text
    before = words(text[: cut.start()])
    if not before or before[-1] in QUESTION_WORDS:  # "the difference between how and why?" asks about both
        return text
    return text[: cut.start()].rstrip(" ,;?") + "?"


def words(text: str) -> list[str]:
    """Lower-cased word tokens; apostrophes are dropped inside words ("what's" -> "whats")."""
    return _TOKEN.findall(_APOSTROPHE.sub("", text.lower()))


def _split_contraction(word: str) -> str:
    """"whats" -> "what", "hows" -> "how" (the apostrophe is gone by now)."""
    if word.endswith("s") and word[:-1] in QUESTION_WORDS:
        return word[:-1]
    return word


@dataclass(frozen=True)
class LexicalView:
    content: dict[str, str]  # stem -> first surface form (in order), function words and numbers left out
    coordinators: dict[frozenset[str], frozenset[str]]  # two stems -> how they are joined: "and", "or", "vs"
    question_types: frozenset[str]
    asks_for_means: bool  # "what is the best way to...", "what should I do to...": a "how" question
    persons: tuple[int, ...]  # indexes into PERSONS, in order of first appearance
    passive_agent: bool  # "... was made by ...": see _PASSIVE_AGENT
    tenses: frozenset[str]  # see _tenses
    modals: frozenset[str]  # see MODALS
    roles: frozenset[tuple[str, str, str]]  # (role marker, stem of the word it marks or "" when stranded, its kind)
    stream: tuple[str, ...]  # content stems in text order, repeats kept, with _NOT for each negation
    kept_light: frozenset[str] = frozenset()  # light words that carry meaning here: see _kept_light
    framed: bool = False  # a how-to frame ("How do I", "What should I do to"): see _procedure_subject
    about_the_asker: bool = False  # see _about_the_asker
    bare: frozenset[str] = frozenset()  # stems of words no preposition marks and no subject precedes: see _bare_words
    asks_what_to_do: bool = False  # see _asks_what_to_do

    @property
    def order(self) -> tuple[str, ...]:
        """Content stems in the order they first appear."""
        return tuple(self.content)

    @property
    def coordinated(self) -> frozenset[frozenset[str]]:
        """Stem pairs joined by "and", "or" or "vs": their order carries no meaning."""
        return frozenset(self.coordinators)


def _question_types(tokens: list[str]) -> set[str]:
    """The wh-words a question asks with. "how" followed by an adjective or adverb ("how much",
    "how long", "how effective") asks for a degree, not a manner; "how come" asks why."""
    types = set()
    for i, w in enumerate(tokens):
        kind = QUESTION_WORDS.get(w)
        if kind == "how" and i + 1 < len(tokens):
            after = tokens[i + 1]
            if after == "come":
                kind = "why"
            elif after in ("much", "many"):
                kind = "how-" + after  # an amount is not a count: "how much do people pay" / "how many people pay"
            elif after not in HOW_MANNER_FOLLOWERS:
                kind = "how-degree"
        if kind is not None:
            types.add(kind)
    if not types and tokens and tokens[0] in YES_NO_MOODS:
        mood = YES_NO_MOODS[tokens[0]]
        if tokens[0] in DO_FORMS and any(w in ("have", "has") and tokens[i + 1 : i + 2] != ["to"] for i, w in enumerate(tokens)):
            mood = "possession"  # "Does Titan have a moon?" is not "Is Titan a moon?"
        types.add(f"yes/no ({mood})")
    return types


def _content_stem(tokens: list[str], start: int, step: int) -> str | None:
    """The first content word's stem from `start` going by `step`, over at most one function word."""
    for i in (start, start + step):
        if 0 <= i < len(tokens):
            w = tokens[i]
            if w not in FUNCTION_WORDS and w not in QUESTION_WORDS and number_value(w) is None:
                return word_key(w)
    return None


def _coordinated(tokens: list[str]) -> dict[frozenset[str], frozenset[str]]:
    """Pairs of stems joined by "and", "or" or "vs" ("versus" is "vs") -> the coordinators used; not
    a contrast: "in staging and not production" is not "in production and not staging"."""
    pairs: dict[frozenset[str], frozenset[str]] = {}
    for i, w in enumerate(tokens):
        if w in COORDINATORS and tokens[i + 1 : i + 2] != ["not"]:
            left, right = _content_stem(tokens, i - 1, -1), _content_stem(tokens, i + 1, 1)
            if left and right and left != right:
                pair = frozenset((left, right))
                pairs[pair] = pairs.get(pair, frozenset()) | {"vs" if w == "versus" else w}
    return pairs


def _asks_for_means(tokens: list[str]) -> bool:
    """A means word ("way", "steps"), or "do" as the main verb ("What should I do to ...", "what to
    do"), not as an auxiliary ("What do birds eat?" asks what, not how)."""
    return any(w in MEANS_WORDS and (w != "do" or (i > 0 and tokens[i - 1] in DO_SUBJECTS)) for i, w in enumerate(tokens))


def _procedure_subject(tokens: list[str], types: set[str]) -> int | None:
    """The index of the generic subject of a question asking how or where to do something ("How
    do I / you / we fix a bike?", "What should I do to ..."), None when there is none."""
    procedural = types <= {"how", "where", "what"} and bool(types & {"how", "where"} or _asks_for_means(tokens))
    if procedural:
        for i, w in enumerate(tokens[:5]):
            if w in GENERIC_SUBJECTS and i > 0 and tokens[i - 1] in PROCEDURE_AUXILIARIES:
                if tokens[i - 1] == "would" and "how" not in types:
                    return None  # "What would you do?" asks for your choice, not a procedure
                return i
    return None


def _moods(tokens: list[str], types: set[str], classes: dict[str, str]) -> frozenset[str]:
    """The `classes` of a question's auxiliaries, but for the one of a how-to frame ("How can I",
    "What should I do to", "How can a teacher"), where they are interchangeable."""
    subject = _procedure_subject(tokens, types)
    framed = subject - 1 if subject is not None else -1
    return frozenset(classes[w] for i, w in enumerate(tokens)
                     if w in classes and i != framed and not (i > 0 and tokens[i - 1] == "how"))




def _after_modal_subject(tokens: list[str], i: int) -> bool:
    """ "How can I have ...": a modal and its subject before a main verb."""
    return i >= 2 and tokens[i - 2] in MODALS and tokens[i - 1] in SUBJECT_PRONOUNS






def _to_or_ing(tokens: list[str]) -> frozenset[tuple[str, str]]:
    """ "forgot to take" (missed it) is not "forgot taking" (took it): (verb, "to" or "ing") for the
    verbs whose sense turns on it."""
    found = set()
    for i, w in enumerate(tokens[:-1]):
        if w in TO_OR_ING_VERBS:
            nxt = tokens[i + 1]
            if nxt == "to" or _is_ing_form(nxt):
                found.add((word_key(w), "to" if nxt == "to" else "ing"))
    return frozenset(found)


def _in_progress(tokens: list[str]) -> bool:
    """ "being" before a participle: "Is the bridge being built?" (under way) is not "Is the bridge built?"."""
    return any(w == "being" and (tokens[i + 1].endswith(("ed", "en", "wn")) or tokens[i + 1] in IRREGULAR_PARTICIPLES)
               for i, w in enumerate(tokens[:-1]))


def _perfect(tokens: list[str]) -> bool:
    """ "has" / "have" as an auxiliary: "How many home runs has Judge hit?" (his total so far) is
    not "How many home runs does Judge hit?" (a rate). Not before "ever" (an experience), nor after
    do-support ("does he have"), "to" or a modal and its subject ("can I have"), nor before "to", a
    number or an object's determiner ("has a cat", "have 3 kids") unless a wh-question inverts it
    ("how many books has the average American read")."""
    wh = bool(QUESTION_WORDS.keys() & set(tokens))
    first_do = next((i for i, w in enumerate(tokens) if w in DO_FORMS), len(tokens))
    for i, w in enumerate(tokens[:-1]):
        if w in HAVE_FORMS and i < first_do and tokens[i - 1 : i] != ["to"] and not _after_modal_subject(tokens, i):
            after = tokens[i + 1]
            if after == "ever":  # "the best film you have ever seen" is "... you ever saw": an experience
                continue
            inverted = i == 0 or (wh and tokens[i - 1] not in SUBJECT_PRONOUNS)
            if after in HAVE_OBJECT_LEADS or number_value(after) is not None or (after in DETERMINERS and not inverted):
                continue
            return True
    return False


def _tenses(tokens: list[str], types: set[str]) -> frozenset[str]:
    """The tenses and aspects a question asks in: its auxiliaries' (see TENSES), a bare past, the
    perfect, "being" under way, and "forgot to do" / "forgot doing"."""
    return (_moods(tokens, types, TENSES)
            | ({"past"} if _bare_past(tokens) else set())
            | ({"perfect"} if _perfect(tokens) else set())
            | ({"progressive"} if _in_progress(tokens) else set())
            | {f"{verb} {form}" for verb, form in _to_or_ing(tokens)})


def _asks_what_to_do(tokens: list[str]) -> bool:
    """ "should" with the asker as subject ("How long should I boil an egg?"): what to do."""
    return any(MODALS.get(w) == "obligation" and tokens[i + 1 : i + 2] and tokens[i + 1] in ASKERS
               for i, w in enumerate(tokens))


def _has_to(tokens: list[str]) -> bool:
    """ "have to" / "has to": a necessity ("How much do I have to withdraw?" is not "How much can I withdraw?")."""
    return any(w in ("have", "has") and tokens[i + 1 : i + 2] == ["to"] for i, w in enumerate(tokens))


def _roles(tokens: list[str], names: frozenset[str]) -> frozenset[tuple[str, str, str]]:
    """(marker, stem of the next word that is no determiner, what that word is: "place" for a
    name or a word after an article, "time" for a number, day or month, else "") per role marker."""
    roles = set()
    markers = (ROLE_MARKERS | ARTICLES if "who" in tokens or len(tokens) <= SHORT_QUESTION or DEFINITE_NOUNS & set(tokens)
               else ROLE_MARKERS)
    for i, w in enumerate(tokens):
        if w in markers:
            rest = [t for t in tokens[i + 1 : i + 4] if t not in DETERMINERS]
            word = rest[0] if rest else ""
            fixed = w == "to" and i > 0 and tokens[i - 1] in FIXED_TO
            if number_value(word) is not None or word in TIME_WORDS:
                kind = "time"
            elif fixed:
                kind = "fixed"  # "according to Judaism" is no destination
            elif not word:
                kind = "stranded"  # "What are legos made of?"
            elif word in names or word in PLACE_NAMES or tokens[i + 1 : i + 2] != [word]:
                kind = "place"
            else:
                kind = "gerund" if _is_ing_form(word) else ""
            roles.add((w, word_key(word) if word else "", kind))
    return frozenset(roles)




def _is_ing_form(word: str) -> bool:
    """ "dating", "eating"; not "string" or "spring"."""
    return word.endswith("ing") and stem(word) != word


def _bare_words(tokens: list[str]) -> frozenset[str]:
    """Stems of content words whose previous word (past determiners) is neither a role marker nor one
    that puts a verb next ("to", a subject, an auxiliary): objects and parts of compounds."""
    bare = set()
    for i, w in enumerate(tokens):
        if w in FUNCTION_WORDS or w in QUESTION_WORDS or number_value(w) is not None or _is_ing_form(w):
            continue  # "like to date" / "like dating": an -ing form is the verb itself
        j = i - 1
        while j >= 0 and tokens[j] in DETERMINERS:
            j -= 1
        if j >= 0 and tokens[j] not in ROLE_MARKERS and tokens[j] not in VERB_LEADS and tokens[j] not in QUESTION_WORDS:
            bare.add(word_key(w))
    return frozenset(bare)


def _asked_object(view: LexicalView) -> bool:
    """A question whose wh-word may be the object of a preposition left at its end ("What ... with?")."""
    return bool(view.question_types & {"what", "who"})




def _stranded(roles: frozenset[tuple[str, str, str]]) -> frozenset[str]:
    return frozenset(marker for marker, _, kind in roles if kind == "stranded" and marker in STRANDABLE)


def _opposite(marker_a: str, kind_a: str, marker_b: str, kind_b: str) -> bool:
    pair = frozenset((marker_a, marker_b))
    if kind_a == kind_b == "stranded":
        return True  # "made of" / "made in"
    if pair in WHERE_ROLES:
        return "fixed" not in (kind_a, kind_b)
    if pair == TO_OF:  # "the way to learn" is "the way of learning"; "a threat to / of hunting" differ
        return "fixed" not in (kind_a, kind_b) and (kind_a == "gerund") == (kind_b == "gerund")
    # A name or a word after an article may be a time too ("until Labor Day", "during the summer").
    return (pair in OPPOSITE_ROLES or pair in ARTICLE_ROLES
            or (kind_a == kind_b and kind_a in ("place", "time") and pair in PLACE_ROLES | TIME_ROLES))


def _persons(tokens: list[str], types: set[str]) -> tuple[int, ...]:
    """Which grammatical persons a question speaks of. In a question asking how or where to do
    something, the agent is generic ("How do I / you / we fix a bike?"): that subject and its
    possessives are left out, so "How do I fix my bike?" meets "How do you fix your bike?", while
    "How do I add a search box to your website?" still differs from "... to my website?", and
    "How did you become X?" (an experience) or "Why do you love cats?" keep their person, and
    "How do I know if I love him?" keeps who loves whom."""
    subject = _procedure_subject(tokens, types)
    generic = GENERIC_SUBJECTS[tokens[subject]] if subject is not None else frozenset()
    order: list[int] = []
    for i, w in enumerate(tokens):
        if w in generic:
            after_preposition = w in REFLEXIVES and i > 0 and tokens[i - 1] in PREPOSITIONS  # "confident in myself"
            found = [_GENERIC_OBJECT if w in OBJECT_FORMS and not after_preposition else _GENERIC]
        else:
            found = [i for i, p in enumerate(PERSONS) if w in p]
        order += [i for i in found if i not in order]
    # "someone" and "its" count only beside the asker or the one asked ("can I sue someone" / "can
    # someone sue me", "my dog licks its / my feet"); alone "someone" is a person in general ("What
    # makes someone shy?") and "its" the thing asked about ("What is GST? What are its advantages?").
    if not set(order) & _ASKER_OR_ASKED:
        order = [i for i in order if i not in (_SOMEONE, _ITS)]
    # The generic agent as subject (and owner) alone is no person; as an object it is one: "How do
    # I know if I love him?" is not "How do I know if he loves me?".
    return () if order == [_GENERIC] else tuple(order)






def _named_words(tokens: list[str], text: str) -> frozenset[int]:
    """Indexes of function or light words that name something in this question (see KEYWORDS)."""
    named = {j for i in range(len(tokens) - 1) if f"{tokens[i]} {tokens[i + 1]}" in CONSTRUCTS for j in (i, i + 1)}
    for i, w in enumerate(tokens):
        before, after = tokens[i - 1] if i > 0 else "", tokens[i + 1] if i + 1 < len(tokens) else ""
        if w in KEYWORDS and (after in KEYWORD_NOUNS or (before in KEYWORD_LEADS and after not in DETERMINERS)
                               or (before == "does" and after in KEYWORD_VERBS) or (w == "do" and after == "while")):
            named.add(i)
        elif before in COMMANDS or (w in TERM_LIGHT and after in TERM_LIGHT[w]):
            named.add(i)
        elif w in MEASURE_GRADES and MEASURES & set(tokens[i + 1 : i + 4]):
            named.add(i)
        elif w == "many" and (after == "to" or before == "to"):  # many-to-many, one-to-many
            named.add(i)
        elif w == "a" and (after in PREPOSITIONS | {"into", "onto", "and", "or", ""}) and i > 0:
            named.add(i)
        elif len(w) == 1 and before in LETTER_NAMES:  # vitamin a / d, medicare part a / d, class a
            named.add(i)
    if re.search(r"\bill\b", text, re.IGNORECASE):  # "my ill dog", not "I'll"
        named |= {i for i, w in enumerate(tokens) if w == "ill"}
    return frozenset(named)


def _hedging_like(tokens: list[str], i: int) -> bool:
    """A "like" that only frames the question: "I would like to know", "What is it like to"."""
    before, after = tokens[i - 1] if i > 0 else "", tokens[i + 1] if i + 1 < len(tokens) else ""
    return before in ("would", "d", "it", "feel", "feels", "felt") or after == "to"


def _kept_light(tokens: list[str]) -> frozenset[str]:
    """Light words this question uses for meaning: "like" but where it hedges ("What is Tokyo
    like?", "Is a whale like a fish?", "apps like Tinder", "Do cats like milk?"), a "one way"
    ticket and money "in tips"."""
    kept = {"like" for i, w in enumerate(tokens) if w == "like" and not _hedging_like(tokens, i)}
    kept |= {w for i, w in enumerate(tokens) if w in ("way", "ways") and i > 0 and tokens[i - 1] == "one"}
    kept |= {w for i, w in enumerate(tokens) if w in ("tip", "tips") and i > 0 and tokens[i - 1] in PREPOSITIONS}
    return frozenset(kept)


def _bare_past(tokens: list[str]) -> bool:
    """A verb whose past is its bare form, right after a wh-subject ("Who hit", "Which team hit")."""
    return any(w in BARE_PASTS and (tokens[i - 1] in WH_SUBJECTS or (i > 1 and tokens[i - 2] in ("which", "what")))
               for i, w in enumerate(tokens) if i > 0)


_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b[A-Z][\w'’-]*")


def _names(text: str) -> frozenset[str]:
    """Capitalised words not opening a sentence, lower-cased as the tokens are."""
    return frozenset(w for m in _NAME.finditer(text.strip()) for w in words(m.group(0)))


_ACRONYM = re.compile(r"\b[A-Z]{2,5}\b")


def _acronyms(text: str) -> frozenset[str]:
    """Upper-case short words that spell a function word ("US", "IT"): names, unless the whole
    question is shouted."""
    if sum(c.isupper() for c in text) > sum(c.islower() for c in text):
        return frozenset()
    return frozenset(m.lower() for m in _ACRONYM.findall(text))


@functools.lru_cache(maxsize=65_536)
def lexical_view(text: str) -> LexicalView:
    tokens = [_split_contraction(w) for w in words(text)]
    acronyms = _acronyms(text)
    named = _named_words(tokens, text)
    content: dict[str, str] = {}
    stream: list[str] = []
    for i, w in enumerate(tokens):
        if w in NEGATION_WORDS and i not in named:
            stream.append(_NOT)
        if i not in named and ((w in FUNCTION_WORDS and w not in acronyms) or w in QUESTION_WORDS or number_value(w) is not None):
            continue
        if w in _FEEL and tokens[i + 1 : i + 2] == ["like"]:
            continue  # "What does it feel like to ..." asks "What is it like to ..."
        content.setdefault(word_key(w), w)
        stream.append(word_key(w))
    names_in_text = _names(text)
    types = _question_types(tokens)
    return LexicalView(content, _coordinated(tokens), frozenset(types),
                       _asks_for_means(tokens), _persons(tokens, types), bool(_PASSIVE_AGENT.search(" ".join(tokens))),
                       _tenses(tokens, types),
                       _moods(tokens, types, MODALS) | ({"necessity"} if _has_to(tokens) else set()),
                       _roles(tokens, names_in_text), tuple(stream), _kept_light(tokens) | {tokens[i] for i in named},
                       _procedure_subject(tokens, types) is not None, _about_the_asker(tokens), _bare_words(tokens),
                       _asks_what_to_do(tokens))


def is_light(word: str) -> bool:
    return word in FILLER_WORDS or word in GRADE_WORDS


def may_drop(word: str, view: LexicalView, other_words: Iterable[str]) -> bool:
    """Whether a question may have `word` where the other one has nothing: a light word, but not a
    quantifier of a yes/no question (see YES_NO_QUANTIFIERS), nor a grade names are made of
    unless the other question grades too (see NAMING_GRADES)."""
    if not is_light(word) or word in view.kept_light:
        return False
    if word in YES_NO_QUANTIFIERS and any(t.startswith("yes/no") for t in view.question_types):
        return False
    return word not in NAMING_GRADES or any(w in GRADE_WORDS for w in other_words)


def is_past_form(word: str) -> bool:
    """A regular past or participle ("owned", "annoyed"), not a word that merely ends in -ed ("speed")."""
    return word.endswith("ed") and stem(word) != word




def _derivation(word: str) -> str:
    """What the stemmer took off a word beyond a plural, when it makes another word ("" if not)."""
    rest = word[len(stem(word)) :] if word.startswith(stem(word)) else ""
    rest = rest[:-2] if rest.endswith("es") and len(rest) > 2 else rest[:-1] if rest.endswith("s") else rest
    return rest if any(d in rest for d in DERIVATIONS) else ""


def same_inflection(a: str, b: str) -> bool:
    """Two forms of one stem that ask the same: not when one is a past or participle and the other
    is not ("Who owned Twitter?" / "Who owns Twitter?", "annoyed" / "annoying"), nor a derived
    noun against its base ("photographer" / "photograph", "murderers" / "murders", "musical" /
    "music"); "learning" / "learn" and "companies" / "company" are alike."""
    return is_past_form(a) == is_past_form(b) and _derivation(a) == _derivation(b)


def same_question_type(a: str, b: str, what_is_how: bool = True) -> bool:
    """Both ask with the same wh-words (or both are yes/no questions). With `what_is_how`, a
    "what" question that asks for a means counts as a "how" question ("What is the best way to
    X?" = "What should I do to X?" = "How do I X?"), while "What is X?" stays apart from "How is X?"."""
    va, vb = lexical_view(a), lexical_view(b)
    ta, tb = va.question_types, vb.question_types
    if what_is_how:
        ta = frozenset("how" if t == "what" and va.asks_for_means else t for t in ta)
        tb = frozenset("how" if t == "what" and vb.asks_for_means else t for t in tb)
    return ta == tb


def same_persons(a: str, b: str) -> bool:
    """The same grammatical persons, first met in the same order ("Does she love him?" is not
    "Does he love her?")."""
    return lexical_view(a).persons == lexical_view(b).persons




def same_mood(a: str, b: str) -> bool:
    """The same tenses ("Who was ..." is not "Who is ...") and the same modalities ("What can I
    eat?" is not "What should I eat?"); a modal on one side only is another question too ("Which
    columns can be null?" / "Which columns are null?", "How many hours should teenagers sleep?" /
    "How many hours do teenagers sleep?"), but for the auxiliary of a how-to frame ("How can I" is
    "How do I"), a "would" alone ("Who would be better?" is "Who is better?") and a "should" that
    asks the asker what to do ("How long should I boil an egg?" is "How long do I boil an egg?";
    not about the asker's own figure: "How much should I weigh?" / "How much do I weigh?")."""
    va, vb = lexical_view(a), lexical_view(b)
    if va.tenses != vb.tenses:
        return False
    if va.modals == vb.modals or va.modals ^ vb.modals == {"conditional"}:
        return True
    if (va.modals and vb.modals) or (va.modals | vb.modals) - {"conditional"} != {"obligation"}:
        return False
    if not (va.asks_what_to_do or vb.asks_what_to_do):
        return False
    if not (va.about_the_asker or vb.about_the_asker):
        return True
    return va.framed or vb.framed or "how" in va.question_types | vb.question_types  # "How should I" is "How do I"


def _about_the_asker(tokens: list[str]) -> bool:
    """The asker's own figure: "my ...", or "I" with a verb that takes no object ("should I weigh?",
    "do I weigh at 5 foot 6?", "should I have in savings?")."""
    if "my" in tokens:
        return True
    for i, w in enumerate(tokens[:-1]):
        if w == "i" and tokens[i - 1] in PROCEDURE_AUXILIARIES | {"am"}:
            after = tokens[i + 2] if i + 2 < len(tokens) else ""
            return after == "" or after in PREPOSITIONS or number_value(after) is not None
    return False


def same_roles(a: str, b: str) -> bool:
    """No word is marked with opposite roles ("to Canada from India" / "from Canada to India"),
    and no two words are joined by "and" in one question and by "or" in the other ("vs" may
    stand for either: "Python vs Java" is "Python or Java" and "Python and Java")."""
    va, vb = lexical_view(a), lexical_view(b)
    ra, rb = va.roles, vb.roles
    if _asked_object(va) and _asked_object(vb) and _stranded(ra) != _stranded(rb):
        return False  # "What do fish breathe with?" / "What do fish breathe?"
    than_a, than_b = {w for m, w, _ in ra if m == "than"}, {w for m, w, _ in rb if m == "than"}
    if than_a and than_b and than_a != than_b:
        return False  # "How much larger is a petabyte than a terabyte?" / "How much larger than a petabyte is a terabyte?"
    for one, other in ((va, vb), (vb, va)):
        if any(m in TARGET_MARKERS and kind in ("", "place") and w in other.bare for m, w, kind in one.roles - other.roles):
            return False
        linked = {w for m, w, _ in other.roles if m in LINK_MARKERS}
        if any(pair & linked and pair <= other.content.keys() and pair not in other.coordinators for pair in one.coordinators):
            return False
    for marker_a, word, kind in ra - rb:
        if any(w == word and _opposite(marker_a, kind, marker_b, kind_b) for marker_b, w, kind_b in rb - ra):
            return False
    ja, jb = lexical_view(a).coordinators, lexical_view(b).coordinators
    return all(ja[p] & jb[p] or "vs" in ja[p] | jb[p] for p in ja.keys() & jb.keys())


def same_voice(a: str, b: str) -> bool:
    """Both or neither use a passive with its agent ("influenced by X" is not "influenced X")."""
    return lexical_view(a).passive_agent == lexical_view(b).passive_agent


def _negation_places(stream: tuple[str, ...], shared: set[str]) -> list[int]:
    """For each negation, how many of the shared content words come before it."""
    seen: set[str] = set()
    places = []
    for item in stream:
        if item == _NOT:
            places.append(len(seen))
        elif item in shared:
            seen.add(item)
    return places


def same_order(a: str, b: str) -> bool:
    """The content words both questions use appear in the same relative order, except two words
    that both questions coordinate ("bridge and culvert" / "culvert and a bridge", "Python or Java"),
    and every negation sits at the same place among them ("if the hospital is not in network but
    the surgeon is" is not "if the hospital is in network but the surgeon is not")."""
    va, vb = lexical_view(a), lexical_view(b)
    symmetric = {w for pair in va.coordinated & vb.coordinated for w in pair}
    shared = (set(va.order) & set(vb.order)) - symmetric
    if [w for w in va.order if w in shared] != [w for w in vb.order if w in shared]:
        return False
    if symmetric and _after_first(va.stream, symmetric, shared) != _after_first(vb.stream, symmetric, shared):
        return False  # "Between TCP and UDP, is TCP more reliable than UDP?" / "... is UDP more reliable than TCP?"
    return _negation_places(va.stream, shared) == _negation_places(vb.stream, shared)


def _after_first(stream: tuple[str, ...], symmetric: set[str], shared: set[str]) -> list[str]:
    """The shared and coordinated stems in text order, each coordinated one past its first mention."""
    seen: set[str] = set()
    out = []
    for w in stream:
        if w in symmetric and w not in seen:
            seen.add(w)
        elif w in symmetric or w in shared:
            out.append(w)
    return out


def content_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the two questions' content stems (1.0 when both have none)."""
    ca, cb = lexical_view(a).content.keys(), lexical_view(b).content.keys()
    union = ca | cb
    return len(ca & cb) / len(union) if union else 1.0

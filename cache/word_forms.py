"""The key two questions' words are compared by: one spelling and one word per meaning.

"What is your favourite colour?" asks what "What is your favorite color?" asks, and "How do I
repair a bike?" what "How do I fix a bike?" asks. Without a shared key such words are aligned
only by their word vectors, which cannot tell a synonym from a sister word ("tokyo" / "osaka" sit
as close as "buy" / "purchase"), so the strict rule refuses them. The key is the Snowball stem of
the American spelling, with the stems of a short list of synonyms merged.

The synonym list holds only words that mean the same in any question a user or agent would send.
Left out on purpose: words with a second sense the other lacks ("benefits" of a job are not its
"advantages", a "site" may be a dig, "college" is not "university" everywhere, "photo" is not a
"picture" in "motion picture", a "purchase order" is no "buy order", a "back issue" no "back
problem", a "film camera" no "movie camera", one "reduces" a fraction, "fasting" stems to
"fast"), and stems shared with other words ("utilize" stems to "util", as "utility" does).
"""

from __future__ import annotations

import functools

from cache.guard import stem

# British spelling -> American, as word beginnings ("colour" covers "colours", "coloured"; every
# prefix has 5 letters or more so that it is not the start of an unrelated word).
_SPELLING_PREFIXES: tuple[tuple[str, str], ...] = tuple(
    tuple(pair.split("/"))  # type: ignore[misc]
    for pair in (
        "favour/favor colour/color honour/honor humour/humor behaviour/behavior neighbour/neighbor "
        "labour/labor flavour/flavor rumour/rumor harbour/harbor endeavour/endeavor vapour/vapor "
        "armour/armor odour/odor savour/savor "
        "centre/center theatre/theater metre/meter litre/liter fibre/fiber calibre/caliber "
        "organis/organiz realis/realiz recognis/recogniz apologis/apologiz criticis/criticiz "
        "optimis/optimiz customis/customiz minimis/minimiz maximis/maximiz prioritis/prioritiz "
        "specialis/specializ summaris/summariz categoris/categoriz memoris/memoriz visualis/visualiz "
        "normalis/normaliz authoris/authoriz finalis/finaliz initialis/initializ serialis/serializ "
        "synchronis/synchroniz standardis/standardiz personalis/personaliz monetis/monetiz "
        "analys/analyz paralys/paralyz catalys/catalyz "
        "travell/travel cancell/cancel modell/model labell/label counsell/counsel "
        "catalogue/catalog dialogue/dialog analogue/analog "
        "defenc/defens offenc/offens licenc/licens practis/practic "
        "paediatr/pediatr anaemi/anemi diarrhoea/diarrhea oestrogen/estrogen haemo/hemo haema/hema "
        "manoeuvr/maneuvr sceptic/skeptic moustache/mustache pyjama/pajama aluminium/aluminum "
        "jewellery/jewelry judgement/judgment enrolment/enrollment programme/program"
    ).split()
)
_SPELLING_WORDS = {"grey": "gray", "greys": "grays", "maths": "math", "mum": "mom", "mums": "moms",
                   "ageing": "aging", "enrol": "enroll", "enrols": "enrolls", "fulfil": "fulfill",
                   "fulfils": "fulfills", "skilful": "skillful", "mould": "mold", "moulds": "molds",
                   "plough": "plow", "cosy": "cozy", "foetus": "fetus"}

# Stems of words that mean the same -> one of them.
_SYNONYM_STEMS = {
    "kid": "children", "child": "children",
    "pic": "pictur",
    "scare": "afraid",
    "repair": "fix",
    "larg": "big",
    "mistak": "error",
    "occur": "happen",
    "difficult": "hard",
    "begin": "start",
    "automobil": "car",
    "couch": "sofa",
}


def american_spelling(word: str) -> str:
    """`word` (lower case) in American spelling where it has a British one."""
    if word in _SPELLING_WORDS:
        return _SPELLING_WORDS[word]
    for british, american in _SPELLING_PREFIXES:
        if word.startswith(british):
            return american + word[len(british) :]
    return word


@functools.lru_cache(maxsize=262_144)
def word_key(word: str) -> str:
    """The stem a lower-case word is compared by: its American spelling's stem, synonyms merged."""
    stemmed = stem(american_spelling(word))
    return _SYNONYM_STEMS.get(stemmed, stemmed)

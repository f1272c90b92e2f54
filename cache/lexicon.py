"""The word lists the semantic match rule reads (cache.lexical): function and filler words,
question words and moods, persons, tenses and modals, role markers and their opposite pairs, and
the terms whose light words carry meaning. Data only; the rules that use it are in cache.lexical.
"""

from __future__ import annotations

# Function words: determiners, pronouns (persons are compared separately), auxiliaries,
# prepositions, conjunctions, question words (compared as question types).
FUNCTION_WORDS = frozenset(
    """a an the this that these those there here it its itself i me my mine myself you your yours yourself
    yourselves he him his himself she her hers herself we us our ours ourselves they them their theirs
    themselves one ones someone somebody anyone anybody something anything
    is are was were be been being am do does did doing done have has had having can could should would will
    shall may might must ought let lets s t d ll m re ve
    of to in on for at by from with as about into onto than then so if or and but nor yet also
    how what why which who whom whose where when whether
    per via vs versus upon within among amongst between through throughout during across around towards toward
    while whilst because since until unless though although
    get gets got getting
    im ive id ill youre youve youll youd hes shes weve theyre theyve theyll thats theres heres whos
    not no never dont doesnt didnt isnt arent wasnt werent cant cannot couldnt shouldnt wouldnt wont
    hasnt havent hadnt""".split()
)  # negations are the guard's business: it counts them on both sides
# Words that leave the question asked unchanged: fillers, intensifiers, vague quantifiers, and
# the frame a question is put in ("what do you think", "can you tell me", "in the world"). Not
# among them, since they change the answer: "too" (much), "a lot of", "just" (only), "always",
# "usually", "still", "already", "likely", "possible", "probably", "even" (numbers), "simply"
# (connected), "actual" (cash value), "kinds" / "types" of, and the verbs "feel" and "know".
FILLER_WORDS = frozenset(
    """really actually exactly exact basically truly literally much
    quite rather pretty ever honestly
    some all every each various
    please kindly
    thing things stuff way ways
    think opinion opinions like tell explain describe suggest suggestion suggestions
    recommend recommendation recommendations advice tip tips world""".split()
)  # not "very" ("very low income" is a band), "many", "any", "certain", "view" (a database view)
# In a yes/no question these quantify what is asked: "Are some people allergic to water?" is not
# "Are people allergic to water?" (in "What are some good books?" they are filler).
# "Do many dogs get cancer?" is not "Do dogs?", "Is a year exactly 365 days?" not "Is a year 365 days?"
YES_NO_QUANTIFIERS = frozenset("some any certain many much exactly".split())
# Grading words that questions use interchangeably ("good", "best" and "top" games; "the best way to"
# is "how to"); one class. Those names are made of are light only against another grading word:
# "the Great Lakes" are not lakes, "Good Friday" is not Friday.
GRADE_WORDS = frozenset("good best top great greatest better nice finest awesome amazing ideal".split())  # "excellent" is a band
# Of those, the ones names are made of: dropped only against another grading word.
NAMING_GRADES = frozenset("good great nice awesome amazing top ideal greatest better".split())

# A yes/no question opens with an auxiliary; its mood is part of what is asked ("Can dogs eat
# grapes?" is not "Do dogs eat grapes?", "Should AAP form a government?" is not "Will it?").
YES_NO_MOODS = {
    **dict.fromkeys("is are was were am do does did has have had isnt arent wasnt werent dont doesnt didnt "
                    "hasnt havent hadnt".split(), "fact"),
    **dict.fromkeys("can could cant couldnt cannot".split(), "ability"),
    **dict.fromkeys("should must ought shall shouldnt mustnt".split(), "obligation"),
    **dict.fromkeys("will would wont wouldnt".split(), "future"),
    **dict.fromkeys("may might".split(), "possibility"),
}
QUESTION_WORDS = {"how": "how", "why": "why", "when": "when", "where": "where", "who": "who", "whom": "who",
                   "whose": "whose", "what": "what", "which": "what", "whats": "what"}
# After "how", these words make it a question of manner ("how do I", "how can we", "how to").
HOW_MANNER_FOLLOWERS = frozenset(
    "do does did can could should would will shall may might must is are was were am has have had to the a an "
    "i you he she we they it one people someone this that these those my your our their his her its".split()
)
COORDINATORS = frozenset("and or vs versus".split())
PROCEDURE_AUXILIARIES = frozenset("do does can could should would will shall may might must".split())
GENERIC_SUBJECTS = {
    "i": frozenset("i me my mine myself".split()),
    "you": frozenset("you your yours yourself".split()),
    "we": frozenset("we us our ours ourselves".split()),
    "one": frozenset("one ones oneself".split()),
}
DO_SUBJECTS = frozenset("i you we they one someone people to he she or and".split())
MEANS_WORDS = frozenset("way ways method methods step steps tip tips do process procedure strategy strategies "
                         "approach technique techniques".split())
PERSONS = (
    frozenset("i me my mine myself im ive id".split()),
    frozenset("you your yours yourself yourselves youre youve".split()),
    frozenset("he him his himself hes".split()),
    frozenset("she her hers herself shes".split()),
    frozenset("we us our ours ourselves".split()),
    frozenset("they them their theirs themselves".split()),
    frozenset("someone somebody anyone anybody".split()),  # "can I sue someone" is not "can someone sue me"
    frozenset("its itself".split()),  # "why does my dog lick its feet" is not "... lick my feet" ("it" alone is often no one)
)
# Tense and modality an auxiliary (or "had") marks; the present ("is", "do", "has") is unmarked, and
# so is "would", which mostly softens. A main verb's own past ("owned" / "owns") is the word
# alignment's business (cache.alignment).
TENSES = {
    **dict.fromkeys("was were did wasnt werent didnt had hadnt got".split(), "past"),
    **dict.fromkeys("will wont ll".split(), "future"),
    "been": "perfect",  # "Has X been married?" (ever) is not "Is X married?" (now)
}
# Verbs whose past is their bare form: right after a wh-word ("Who hit", "Which team hit") it is
# the past ("Who hits" asks about now).
BARE_PASTS = frozenset("hit set put cut read let beat spread shut quit split bet hurt cast burst upset".split())
WH_SUBJECTS = frozenset("who which what that".split())
MODALS = {
    **dict.fromkeys("can could cant couldnt cannot".split(), "ability"),
    **dict.fromkeys("should ought shall shouldnt".split(), "obligation"),
    **dict.fromkeys("must mustnt".split(), "necessity"),  # "Must I tip?" (a rule) is not "Should I tip?" (advice)
    **dict.fromkeys("may might".split(), "possibility"),
    **dict.fromkeys("would wouldnt".split(), "conditional"),  # "What would you do?" is not "What should you do?"
}
# Role markers: a word both questions mark, with markers of opposite roles, is a different role.
OPPOSITE_ROLES = frozenset(frozenset(p.split()) for p in (
    "to from", "into from", "onto from", "towards from", "toward from", "to by", "for about", "for while",
    "with without", "within outside", "inside outside", "by about", "by for",  # books by / about / for X
    "since until", "since till", "since in", "since before", "until after", "till after",  # since 2014 / in 2014
    "since on", "since at", "since for", "since of", "until if", "until in", "till if",  # as of / since 2020; until / if I feel better
    "if unless", "in on", "to about", "across around", "by until",  # foil in / on the microwave; say to / about my boss
    "for with", "with about", "to for", "through around", "at for", "of for",  # cook for / with my wife
    "as with", "although because", "though because", "while because",  # use X as / with Y; tired although / because I sleep
    "while until", "at to", "into in", "into at", "into through",  # stir while / until it boils; throw at / to; break into / in
    "get be", "get let",  # get / be a tutor; get my son to / let my son drive
    "be have", "do have", "get do",  # be / have a mentor; what does a router do / have; get / do my taxes
    "per in", "in with", "into with", "of on", "do be", "had were", "had was",
    # the most rebounds per / in a game; what goes in / into / with a stew; the effect of / on inflation;
    # how to do / be good; which presidents had / were slaves
    "within across", "within between", "across between", "per across", "per within",  # duplicates within / across columns
    "between during", "between with", "since during", "to through", "to via", "as for", "as to",  # between / during meals
    "or with", "vs with", "versus with",  # ibuprofen or / with tylenol
    "of by", "on by", "with by", "on with", "into by",  # photos of / by, a book on / by, what goes on / with; divided into / by
    "this that", "here there",  # who won this / that year; what time is it here / there
))
# In a "who" question the article tells one holder from any: "Who won the / a Nobel Prize?",
# "Who is the / a founder of OpenAI?" (elsewhere "the example" is "an example").
ARTICLE_ROLES = frozenset(frozenset(p.split()) for p in ("the a", "the an"))
# So does it in a question of a few words, where "the" names one thing: "What is the cloud?", "How
# does the pill work?" (in a longer one "the student" is mostly "a student").
SHORT_QUESTION = 5
# ... and before nouns that with "the" name one thing in any question ("the pill", "the Rock").
DEFINITE_NOUNS = frozenset("pill shot rock crown bar market cloud web net fed draft patch moon sun flu jackpot".split())
# Only where the marked word is a place or a time (see _roles): a name, a word after an article, a
# number, a day, month or season ("ambassador to / of China", "a trip to / with Emma", "due by / on
# Friday", "for / in 2 weeks", "until / on Labor Day"), not a bare word ("the way to / of learning").
PLACE_ROLES = frozenset(frozenset(p.split()) for p in ("to with",))
# Toward against belonging, whatever the word, unless one of them is an -ing form ("the biggest
# threat to / of ai", "ambassador to / of japan"; "the way to learn" is "the way of learning").
TO_OF = frozenset(("to", "of"))
# A destination against a place one is in, whatever the word: "travel to / in europe" in lower
# case, "go to / in school".
WHERE_ROLES = frozenset(frozenset(p.split()) for p in ("to in", "to within", "to around", "to across", "to on", "in around"))
TIME_ROLES = frozenset(frozenset(p.split()) for p in (
    "by at", "by on", "by in", "until at", "until on", "until during", "until for", "for in", "on around", "at around",
    "by during", "by since", "by around", "through in", "since around", "since through", "through at", "through during"))
# walked on the moon by / during 1972, wins through / in march, moved since / around 2020, sleep through / at night
TIME_WORDS = frozenset("""monday tuesday wednesday thursday friday saturday sunday weekend noon midnight tonight tomorrow
    morning evening night lunch due deadline winter summer spring autumn fall christmas thanksgiving easter holidays january february march april may june july august september october november december""".split())
# "to" in these is no destination: "according to", "due to", "belongs to".
FIXED_TO = frozenset("according due thanks next close compared similar related belongs belong belonging".split())
ROLE_MARKERS = frozenset(w for pairs in (OPPOSITE_ROLES, PLACE_ROLES, WHERE_ROLES, TIME_ROLES, [TO_OF]) for pair in pairs for w in pair) | {"than"}
ARTICLES = frozenset("the a an".split())
REFLEXIVES = frozenset("myself ourselves yourself yourselves oneself".split())
OBJECT_FORMS = frozenset("me us".split()) | REFLEXIVES  # "teach myself" is not "teach"
PREPOSITIONS = frozenset("in on at of for with about to from by into within".split())
DETERMINERS = frozenset("a an the my your his her our their its this that these those some".split())

HAVE_FORMS = frozenset("has have hasnt havent".split())
SUBJECT_PRONOUNS = frozenset("i you we they he she it one".split())
DO_FORMS = frozenset("do does did dont doesnt didnt".split())
HAVE_OBJECT_LEADS = frozenset("to got any no enough more many much lots so such".split())
IRREGULAR_PARTICIPLES = frozenset("built made sold held paid done seen taken given kept sent spent told found".split())
TO_OR_ING_VERBS = frozenset("forget forgets forgot forgotten remember remembers remembered stop stops stopped try tries "
                             "tried regret regrets regretted quit quits".split())
# A word these mark in one question is a target there; the same word right after a verb in the
# other is what the verb acts on: "convert to a PDF" / "convert a PDF", "add a user to a group" /
# "add a user group".
TARGET_MARKERS = frozenset("to for into onto from as".split())
# The coordinated words of one question linked by one of these in the other: "use Postgres and a
# queue" / "use Postgres as a queue", "run Windows and Linux" / "run Windows on Linux".
LINK_MARKERS = frozenset("as in on inside into within under over with".split())
VERB_LEADS = frozenset("to i you we they he she it one people me us him her them do does did can could should would "
                        "will must may might not dont doesnt didnt cant".split())
STRANDABLE = PREPOSITIONS | frozenset("through under over onto across around without".split())
# Function and light words that name a thing here, so they count as content: a keyword ("the and
# operator", "use or in a where clause", "a do while loop"), a command's subcommand ("kubectl
# describe", "git describe"), a placeholder ("branch a into branch b"), "ill" written so, and
# light words of a term ("pretty print", "exact match", "many to many", "numpy any").
KEYWORDS = frozenset("and or not nor xor nand it this self do while for if is as in with yield await async return".split())
KEYWORD_NOUNS = frozenset("operator operators gate gates keyword keywords function clause loop loops statement statements "
                           "expression condition block method return returns short".split())
KEYWORD_LEADS = frozenset("use using the an a".split())
KEYWORD_VERBS = frozenset("return returns mean do short".split())  # "What does and return?", "Does or short circuit?"
COMMANDS = frozenset("kubectl git docker helm npm pip cargo terraform gcloud aws az brew apt systemctl numpy np torch".split())
LETTER_NAMES = frozenset("vitamin hep hepatitis part plan class schedule type grade section form category level tier "
                          "group option phase stage exhibit appendix size series terminal key ctrl control alt shift cmd "
                          "gate".split())
TERM_LIGHT = {"pretty": frozenset("print printed printing printer".split()),
               "exact": frozenset("match matches matching word string phrase value search".split()),
               "best": frozenset("seller sellers selling man".split()),
               "world": frozenset("war wars cup bank series record records writable readable executable heritage country "
                                  "countries".split()),
               "great": frozenset("uncle aunt grandfather grandmother grandparent grandparents grandson granddaughter nephew "
                                  "niece".split())}
# Before a measure a grade word says which value: the "top speed" is the highest, the "ideal tire
# pressure" the one to aim for, the "best speed" neither.
MEASURE_GRADES = frozenset("top ideal finest best max maximum optimal good great decent".split())
MEASURES = frozenset("speed speeds temperature temp pressure level setting settings price rate size weight height "
                      "capacity load dose dosage altitude depth resolution voltage rpm range grit sandpaper count "
                      "score gpa salary tip return income wage bmi rent mileage threshold granularity ping pace yield "
                      "handicap ratio worth a1c max press sugar momentum gamma crf buffers grind number reading "
                      "value values parameter parameters hyperparameters percentage percent average ctr".split())
# Code constructs made of function words: "distinct on", "for update", "if exists", "create table
# as", "async for / with", "for await", "has many through", "explain analyze".
CONSTRUCTS = frozenset(("distinct on", "for update", "if exists", "if not", "table as", "async for", "async with",
                         "for await", "await of", "many through", "explain analyze", "order by", "group by", "partition by"))
# Derivational endings: photographer, alcoholism, musical, operative / operation, authority, production,
# metallic / metal.
DERIVATIONS = ("er", "or", "ism", "ist", "al", "iv", "ion", "it", "ment", "ness", "anc", "enc", "ur", "ic")
ASKERS = frozenset("i you we one".split())

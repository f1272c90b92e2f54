"""Adversarial question pairs: the same question with one number changed, a negation inserted or
a word swapped for its antonym, plus hand-written swaps (among them the wrong hits of a contrastive
probe: swapped numbers and roles, tense and modality, quantifiers, inflected antonyms). The
semantic cache must serve none of them."""

from __future__ import annotations

import re

from cache.guard import _ANTONYM_GROUPS

# Hand-written pairs, the first two from the caching issue.
HANDWRITTEN: tuple[tuple[str, str, str], ...] = (
    ("number", "What is the square root of 16?", "What is the square root of 18?"),
    ("number", "When does season 5 of Game of Thrones come out?", "When does season 6 of Game of Thrones come out?"),
    ("number", "How many calories are in 2 eggs?", "How many calories are in 3 eggs?"),
    ("number", "What was the population of France in 1990?", "What was the population of France in 2010?"),
    ("number", "Is 0.5 mg of melatonin too much?", "Is 5 mg of melatonin too much?"),
    ("negation", "Should I learn Python before Java?", "Should I not learn Python before Java?"),
    ("negation", "Why is my code compiling?", "Why is my code not compiling?"),
    ("negation", "Can dogs eat grapes?", "Can't dogs eat grapes?"),
    ("antonym", "What are the advantages of nuclear energy?", "What are the disadvantages of nuclear energy?"),
    ("antonym", "How do I increase my credit score?", "How do I decrease my credit score?"),
    ("antonym", "What is the best programming language?", "What is the worst programming language?"),
    ("antonym", "How do I convert Celsius to Fahrenheit easily?", "How do I convert Fahrenheit to Celsius easily?"),
    # Found by probing the shipped rule (the first two were served before their words were listed).
    ("antonym", "How do I sort a list in Python ascending?", "How do I sort a list in Python descending?"),
    ("negation", "How many days are in February in a leap year?", "How many days are in February in a non-leap year?"),
    ("antonym", "How do I delete a git branch locally?", "How do I delete a git branch remotely?"),
    ("antonym", "How to center a div horizontally?", "How to center a div vertically?"),
    ("antonym", "What is the minimum wage in California?", "What is the maximum wage in California?"),
    ("polarity", "Cheap flights to Paris", "Cheap flights from Paris"),
    ("antonym", "Is it better to run in the morning?", "Is it better to run in the evening?"),
    ("antonym", "What's the weather like on weekdays in London?", "What's the weather like on weekends in London?"),
    ("antonym", "Are all mammals warm-blooded?", "Are some mammals warm-blooded?"),
    ("antonym", "What are the rights of a landlord?", "What are the rights of a tenant?"),
    ("antonym", "Why is my token invalid?", "Why is my token valid?"),
    ("antonym", "Can you freeze cooked pasta?", "Can you freeze uncooked pasta?"),
    # Swaps the embeddings barely see: lower-case names, near-domain words, question type, voice.
    ("substitution", "how do i learn python quickly?", "how do i learn java quickly?"),
    ("substitution", "What jobs are there for mechanical engineers?", "What jobs are there for electrical engineers?"),
    ("substitution", "what is the capital of france?", "what is the capital of germany?"),
    ("substitution", "What does 才 mean in English?", "What does 竟然 mean in English?"),
    ("substitution", "Which is the better iPhone, 6 plus or 6s?", "Which is the better iPhone, 6 plus or 6?"),
    ("polarity", "How do I stop lying to my parents?", "How do I lie to my parents?"),
    ("question", "Is Jackie Chan humble?", "Why is Jackie Chan humble?"),
    ("question", "How is energy transferred in a food chain?", "How much energy is transferred in a food chain?"),
    ("voice", "Which directors have influenced Werner Herzog?", "Which directors have been influenced by Werner Herzog?"),
    ("order", "Do I need a visa to visit Japan from the US?", "Do I need a visa to visit the US from Japan?"),  # "US" is no pronoun
    # Served by the rule before the contrastive probe (cache/guard, cache/lexical rules since): numbers and roles
    # swapped, function-word roles, pronoun swaps, tense and modality, quantifiers, inflected and affixed antonyms,
    # weekdays, magnitudes, SI units, added contrast words, real words one letter apart, plurals with their own sense.
    ("order", "What is 10 divided by 2?", "What is 2 divided by 10?"),
    ("order", "What is 7 minus 3?", "What is 3 minus 7?"),
    ("order", "What is 2 to the power of 10?", "What is 10 to the power of 2?"),
    ("order", "Is 17 bigger than 71?", "Is 71 bigger than 17?"),
    ("order", "How many days are there between March 3 and May 7?", "How many days are there between March 7 and May 3?"),
    ("order", "What day of the week was 3/4/2020?", "What day of the week was 4/3/2020?"),
    ("order", "Is 1 kg heavier than 2 lbs?", "Is 2 kg heavier than 1 lbs?"),
    ("order", "How do I convert 5 ft 10 in to cm?", "How do I convert 10 ft 5 in to cm?"),
    ("order", "What is the remainder of 17 mod 5?", "What is the remainder of 5 mod 17?"),
    ("order", "How many combinations of 3 from 10 items?", "How many combinations of 10 from 3 items?"),
    ("order", "Does she love him?", "Does he love her?"),
    ("order", "Why did he leave her?", "Why did she leave him?"),
    ("order", "Does he owe her money after the divorce?", "Does she owe him money after the divorce?"),
    ("order", "Do I need a visa to travel to Canada from India?", "Do I need a visa to travel from Canada to India?"),
    ("order", "How long is the flight to London from New York?", "How long is the flight from London to New York?"),
    ("order", "How do I copy files to the server from my laptop?", "How do I copy files from the server to my laptop?"),
    ("order", "How do I migrate from mysql to postgres?", "How do I migrate to mysql from postgres?"),
    ("order", "Who did Taylor Swift write this song for?", "Who did Taylor Swift write this song about?"),
    ("order", "Can I take ibuprofen and paracetamol together?", "Can I take ibuprofen or paracetamol together?"),
    ("order", "Is it safe to take aspirin and warfarin?", "Is it safe to take aspirin or warfarin?"),
    ("order", "How do I ship items within the EU?", "How do I ship items outside the EU?"),
    ("order", "Do I pay tax on money sent to me by my parents?", "Do I pay tax on money sent by me to my parents?"),
    ("order", "in this bash script that processes log files from the server, how do i use a while loop to read each line and count errors?", "in this bash script that processes log files from the server, how do i use a for loop to read each line and count errors?"),
    ("order", "Quick math check for my kid's homework sheet, what do you get when you divide 10 by 2, and can you show the steps?", "Quick math check for my kid's homework sheet, what do you get when you divide 2 by 10, and can you show the steps?"),
    ("order", "I'm booking travel for the team offsite, how many nights is a stay from June 3 to June 7 at the hotel?", "I'm booking travel for the team offsite, how many nights is a stay from June 7 to June 3 at the hotel?"),
    ("order", "We need to move our data, what is the safest way to migrate a production database from mysql to postgres with no downtime?", "We need to move our data, what is the safest way to migrate a production database to mysql from postgres with no downtime?"),
    ("order", "How do I upgrade from Python 2 to Python 3?", "How do I upgrade from Python 3 to Python 2?"),
    ("negation", "Is coffee better with or without sugar?", "Is coffee better without sugar?"),
    ("question", "Who was the president of france?", "Who is the president of france?"),
    ("question", "Who was the CEO of Twitter?", "Who is the CEO of Twitter?"),
    ("question", "What did Apple announce at WWDC?", "What will Apple announce at WWDC?"),
    ("question", "How much did the iPhone cost at launch?", "How much will the iPhone cost at launch?"),
    ("question", "What can I eat while pregnant?", "What should I eat while pregnant?"),
    ("question", "Which vaccines can my baby get?", "Which vaccines must my baby get?"),
    ("question", "What expenses can I deduct as a freelancer?", "What expenses must I deduct as a freelancer?"),
    ("question", "What documents may I bring on the plane?", "What documents must I bring on the plane?"),
    ("question", "How much water can a dog drink?", "How much water should a dog drink?"),
    ("question", "Which fields can be null in this schema?", "Which fields must be null in this schema?"),
    ("question", "How many hours can a teenager work?", "How many hours should a teenager work?"),
    ("question", "I'm preparing a briefing for my manager: who was the prime minister of the UK during the Brexit referendum campaign?", "I'm preparing a briefing for my manager: who is the prime minister of the UK during the Brexit referendum campaign?"),
    ("question", "Can you summarize what happened to the price of gold, silver and platinum on the commodity markets this quarter?", "Can you summarize what will happen to the price of gold, silver and platinum on the commodity markets this quarter?"),
    ("question", "In our quarterly planning doc, what did the product team ship for the mobile app and which bugs remained open?", "In our quarterly planning doc, what will the product team ship for the mobile app and which bugs remain open?"),
    ("question", "My doctor said to be careful with food during pregnancy, so what can I eat safely in the first trimester when I feel nauseous?", "My doctor said to be careful with food during pregnancy, so what should I eat safely in the first trimester when I feel nauseous?"),
    ("question", "We are writing the onboarding checklist for new contractors: which documents may they sign before their background check is done?", "We are writing the onboarding checklist for new contractors: which documents must they sign before their background check is done?"),
    ("question", "In our API design, which fields of the user object can be left empty when a client creates a new account?", "In our API design, which fields of the user object must be left empty when a client creates a new account?"),
    ("number", "Is 100 mbps fast enough for streaming?", "Is 100 gbps fast enough for streaming?"),
    ("number", "Why do hundreds of birds die hitting windows?", "Why do thousands of birds die hitting windows?"),
    ("number", "Do millions of people visit the eiffel tower each year?", "Do billions of people visit the eiffel tower each year?"),
    ("number", "Is it worth spending thousands on a mattress?", "Is it worth spending hundreds on a mattress?"),
    ("antonym", "Who buys used cars for cash near me?", "Who sells used cars for cash near me?"),
    ("antonym", "Why was my account disabled?", "Why was my account enabled?"),
    ("antonym", "How do I see which extensions are enabled in chrome?", "How do I see which extensions are disabled in chrome?"),
    ("antonym", "What happens to the loan if the lender dies?", "What happens to the loan if the borrower dies?"),
    ("antonym", "Is a cheetah stronger than a leopard?", "Is a cheetah weaker than a leopard?"),
    ("antonym", "Is sunset earlier in december than in january?", "Is sunset later in december than in january?"),
    ("antonym", "Why is the bass louder in my left earbud?", "Why is the bass quieter in my left earbud?"),
    ("antonym", "What is the quickest way to learn to type?", "What is the slowest way to learn to type?"),
    ("antonym", "What are the top rated restaurants in rome?", "What are the lowest rated restaurants in rome?"),
    ("antonym", "Is it normal to overestimate how long a task takes?", "Is it normal to underestimate how long a task takes?"),
    ("antonym", "How do I whitelist an email address in gmail?", "How do I blacklist an email address in gmail?"),
    ("antonym", "How to tighten a loose bolt?", "How to loosen a loose bolt?"),
    ("antonym", "Is gluten-free bread healthier?", "Is gluten bread healthier?"),
    ("antonym", "Is sugar-free soda bad for your teeth?", "Is sugary soda bad for your teeth?"),
    ("antonym", "Is a useful life estimate required for depreciation?", "Is a useless life estimate required for depreciation?"),
    ("antonym", "Are prenatal vitamins necessary?", "Are postnatal vitamins necessary?"),
    ("antonym", "how does union all work in sql?", "how does union work in sql?"),
    ("antonym", "Should I water succulents every day?", "Should I water succulents every other day?"),
    ("antonym", "Is a few drinks a week bad for you?", "Is a lot of drinks a week bad for you?"),
    ("antonym", "is the bank open on monday?", "is the bank open on tuesday?"),
    ("antonym", "What's the weather this weekend in seattle?", "What's the weather next weekend in seattle?"),
    ("antonym", "What movies are showing tonight?", "What movies are showing tomorrow night?"),
    ("antonym", "How do I delete a git branch?", "How do I delete all git branches?"),
    ("antonym", "Do all apps need location permission?", "Do any apps need location permission?"),
    ("antonym", "Can I delete every email from one sender in gmail?", "Can I delete an email from one sender in gmail?"),
    ("antonym", "Does it always rain in london in april?", "Does it usually rain in london in april?"),
    ("antonym", "How do I remove duplicates from a list?", "How do I remove all duplicates but one from a list?"),
    ("antonym", "Do most cats like water?", "Do many cats like water?"),
    ("antonym", "How do I kill a process in linux?", "How do I kill all processes in linux?"),
    ("antonym", "Our team standup got moved, can you check whether the conference room is free on monday afternoon for an hour?", "Our team standup got moved, can you check whether the conference room is free on thursday afternoon for an hour?"),
    ("antonym", "Looking at the sales dashboard, how did revenue in the north america region compare this month against the plan?", "Looking at the sales dashboard, how did revenue in the north america region compare next month against the plan?"),
    ("antonym", "For a blog post about island nations and geography trivia, which country in the world has the most islands and how many?", "For a blog post about island nations and geography trivia, which country in the world has the fewest islands and how many?"),
    ("antonym", "I'm compiling a survey summary for the engineering team, what is your least favorite programming language and why?", "I'm compiling a survey summary for the engineering team, what is your favorite programming language and why?"),
    ("antonym", "The senate has a new leadership structure this session, what powers does the majority leader have over scheduling votes?", "The senate has a new leadership structure this session, what powers does the minority leader have over scheduling votes?"),
    ("substitution", "How are damages calculated in a lawsuit?", "How is damage calculated in a lawsuit?"),
    ("substitution", "Where can I buy spectacles online?", "Where can I buy a spectacle online?"),
    ("substitution", "What are the arms of the US government?", "What is the arm of the US government?"),
    ("substitution", "I just moved to Washington state for a new job, which county is Seattle in and where do I register my car?", "I just moved to Washington state for a new job, which country is Seattle in and where do I register my car?"),
    # A second probe, written after the rules above and scored before it changed anything: its wrong hits.
    ("antonym", "What skills do junior data analysts need?", "What skills do senior data analysts need?"),
    ("antonym", "Which stocks outperformed the S&P 500 last year?", "Which stocks underperformed the S&P 500 last year?"),
    ("antonym", "Is the northbound Q train running tonight?", "Is the southbound Q train running tonight?"),
    ("number", "Is 5 ppm of chlorine safe in drinking water?", "Is 5 ppb of chlorine safe in drinking water?"),
    ("number", "The recipe calls for one and a half cups of flour, how many grams is that?", "The recipe calls for half a cup of flour, how many grams is that?"),
    ("substitution", "What does the ?? operator do in JavaScript?", "What does the ?. operator do in JavaScript?"),
    ("order", "Why is i++ faster than ++i?", "Why is ++i faster than i++?"),
    ("negation", "I'm trying to understand my insurance before surgery next month, what happens if the hospital is not in my plan's network but the surgeon is?",
     "I'm trying to understand my insurance before surgery next month, what happens if the hospital is in my plan's network but the surgeon is not?"),
    ("number", "How long does it take to download 50 GB at 100 Mbps?", "How long does it take to download 50 GB at 100 MBps?"),
    # A third probe, written after the second's fixes and scored before it changed anything: its wrong hits.
    ("number", "What is twenty-five percent of 360?", "What is thirty-five percent of 360?"),
    ("order", "What is 2³ + 3²?", "What is 2² + 3³?"),
    ("number", "What's the square root of -16?", "What's the square root of 16?"),
    ("number", "Is the temperature at -40 the same in Celsius and Fahrenheit?", "Is the temperature at 40 the same in Celsius and Fahrenheit?"),
    ("number", "What does arr.at(-1) return in JavaScript?", "What does arr.at(1) return in JavaScript?"),
    ("antonym", "Is dissolving ammonium nitrate in water exothermic?", "Is dissolving ammonium nitrate in water endothermic?"),
    ("antonym", "What are the duties of the plaintiff in a civil case?", "What are the duties of the defendant in a civil case?"),
    ("substitution", "My Docker build fails compiling psycopg2 on Alpine, what should I change?", "My Docker build fails compiling psycopg2-binary on Alpine, what should I change?"),
    # A fourth probe, written after the third's fixes and scored before it changed anything: its wrong hits.
    ("number", "How many homes can 5 MW of solar power?", "How many homes can 5 mW of solar power?"),
    ("number", "Is a 1 MΩ resistor fine as a pull-up?", "Is a 1 mΩ resistor fine as a pull-up?"),
    ("number", "How long does a nightly backup take over a 100 Mb/s uplink?", "How long does a nightly backup take over a 100 MB/s uplink?"),
    ("antonym", "How do I make the header opaque on scroll?", "How do I make the header transparent on scroll?"),
    ("substitution", "Why does .* match too much in my regex?", "Why does .*? match too much in my regex?"),
)

_INT = re.compile(r"(?<![\d.])(\d{1,4})(?![\d.])")
_AUX = {
    "is": "is not", "are": "are not", "was": "was not", "were": "were not", "can": "cannot", "could": "could not",
    "do": "do not", "does": "does not", "did": "did not", "should": "should not", "would": "would not",
    "will": "will not", "has": "has not", "have": "have not",
}
_AUX_RE = re.compile(r"\b(" + "|".join(_AUX) + r")\b", re.I)
_WORD_RE = re.compile(r"[A-Za-z]+")


def _antonym_of() -> dict[str, str]:
    """Each word to the word at the same position of the next pole (poles list parallel forms:
    "advantages" -> "disadvantages", "older" -> "newer")."""
    swap: dict[str, str] = {}
    for group in _ANTONYM_GROUPS:
        poles = [pole.split() for pole in group.split("|")]
        for i, pole in enumerate(poles):
            other = poles[(i + 1) % len(poles)]
            for j, word in enumerate(pole):
                swap.setdefault(word, other[min(j, len(other) - 1)])
    return swap


_SWAP = _antonym_of()


def change_number(question: str) -> str | None:
    m = _INT.search(question)
    if m is None:
        return None
    value = int(m.group(1))
    return question[: m.start()] + str(value + 1 if value % 10 != 9 else value - 1) + question[m.end() :]


def insert_negation(question: str) -> str | None:
    m = _AUX_RE.search(question)
    if m is None:
        return None
    word = m.group(1)
    negated = _AUX[word.lower()]
    if word[0].isupper():
        negated = negated[0].upper() + negated[1:]
    return question[: m.start()] + negated + question[m.end() :]


def swap_antonym(question: str) -> str | None:
    for m in _WORD_RE.finditer(question):
        word = m.group(0)
        other = _SWAP.get(word.lower())
        if other is not None and len(word) > 2:
            if word[0].isupper():
                other = other[0].upper() + other[1:]
            return question[: m.start()] + other + question[m.end() :]
    return None


def adversarial_pairs(questions: list[str], word_sample: int | None = None, seed: int = 0) -> list[tuple[str, str, str]]:
    """(kind, original, perturbed) plus HANDWRITTEN: a number change for every question holding a
    number; a negation and an antonym swap for every question, or for a fixed-seed sample of
    `word_sample` questions (each perturbed text costs one embedding)."""
    import random

    pairs: list[tuple[str, str, str]] = list(HANDWRITTEN)
    word_questions = questions
    if word_sample is not None and word_sample < len(questions):
        word_questions = random.Random(seed).sample(questions, word_sample)
    for kind, perturb, pool in (
        ("number", change_number, questions),
        ("negation", insert_negation, word_questions),
        ("antonym", swap_antonym, word_questions),
    ):
        for question in pool:
            changed = perturb(question)
            if changed is not None and changed != question:
                pairs.append((kind, question, changed))
    return pairs

"""The project's labelled set for the word filter: `python -m bench.moderation_set`.

Writes bench/data/moderation-tune.csv and bench/data/moderation-test.csv (columns text, label,
kind, base), and two sets written later, each after the rules were edited and scored once:
moderation-holdout.csv (whose mistakes were then fixed: a tuning set since) and
moderation-holdout2.csv. Every row comes from one hand-written sentence (``base``);
obfuscated variants of an abusive sentence (leetspeak, separators, repeated letters,
look-alike letters, zero-width characters, fullwidth forms, an asterisk) stay in their
sentence's half, so the test half holds no variant of a sentence tuned on. Which half a
sentence is in is fixed by its text's hash.
rules.toml was edited looking at the tune half only; docs/moderation.md reports the test half.

Labels: ``abusive`` (swearing, slurs, sexual harassment, insults and threats aimed at people)
and ``clean`` (study chat, including the Scunthorpe cases and the words of a biology or
history lesson). The sentences were written for this set; the obfuscations are random with a
fixed seed, so the files are the same on every run.
"""

from __future__ import annotations

import csv
import hashlib
import random
import sys
from pathlib import Path

OUT = Path(__file__).with_name("data")

CLEAN = [
    "hey does anyone have the notes from the biology lecture on cell division?",
    "I think the answer to question 3 is 42, can someone check my work",
    "lol that exam was brutal, I passed though",
    "meeting in the library at 5pm, bring the assignment",
    "can we start the pomodoro timer again? 25 minutes focus",
    "who wants to quiz each other on organic chemistry tonight",
    "my flashcards for the french vocab are in the shared folder",
    "the deadline for the essay got moved to friday",
    "does anyone understand eigenvalues? I'm lost",
    "good luck on the midterm everyone!",
    "I'll be a bit late, the bus is stuck in traffic",
    "thanks for explaining the recursion thing, it finally clicked",
    "break time, back in 5",
    "can someone share the link to the past papers",
    "I got a B+ on the lab report, not bad",
    "what chapter are we on in the history reading?",
    "let's do 3 more problems and then stop",
    "this proof is so long, I need coffee",
    "is the exam open book or closed book?",
    "I made a summary of the lecture slides if anyone wants it",
    "room 455 is free after 4, we could move there",
    "sorry I fell asleep, what did I miss",
    "the professor posted the grades",
    "anyone else struggling with the statistics homework",
    "we should make a study plan for the finals week",
    "muting myself, my roommate is vacuuming",
    "I'm going to review derivatives then integrals",
    "that was a great session, same time tomorrow?",
    "nice work on the presentation yesterday",
    "can you explain the difference between mitosis and meiosis",
    "I need to finish my thesis draft by monday",
    "let's focus, no phones for the next hour",
    "I keep mixing up the dates of the french revolution",
    "the answer key has a mistake in problem 7",
    "who's joining the physics study group later",
    "I'll send the spreadsheet with the data in a sec",
    "my code finally compiles, no idea why it works now",
    "reading chapter 12 on thermodynamics",
    "the tutor said to practise past exams",
    "5 more minutes of the break",
    "omg I passed the driving theory test",
    "this textbook is so dense",
    "is anyone else doing the online course on machine learning",
    "can we switch to the quiet room",
    "I'm so tired, pulled an all-nighter for the exam",
    "the group project meeting is moved to 3",
    "please don't spoil the answers, I'm still working on it",
    "what's the formula for compound interest again",
    "I finished the reading, it was actually interesting",
    "hahaha that meme about finals is so true",
    "sooo much homework this week",
    "goooood morning study buddies",
    "yesss I finally solved it!!!",
    "nooo I forgot to save my essay",
    "gr8 job everyone, see u l8r",
    "my score was 100/100 on the quiz",
    "call me at 555 0134 if the room changes",
    "that question was hard as hell, but I got it",
    "damn, I missed the bus again",
    "this assignment is crap, the instructions make no sense",
    "what the heck is a tensor",
    "god this chapter is long",
    "this question is so stupid, it has two right answers",
    "I'm a dummy, I forgot the units",
    "stop being such a prude about the deadline lol",
]

SCUNTHORPE = [
    "my cousin lives in Scunthorpe, near the steelworks",
    "the assassin in the history reading was Gavrilo Princip",
    "we're reading Dickens for english lit",
    "mix the cocktail of reagents carefully in the lab",
    "the data analysis section is due tomorrow",
    "circumference equals two pi r",
    "the summa cum laude students give a speech",
    "I need to assess my progress before the exam",
    "the great tit is a common bird in europe",
    "the cockpit of the plane has two pilots",
    "a cockroach can survive without its head for a week",
    "Penistone is a market town in Yorkshire",
    "we studied the Titanic for the history project",
    "the constitution was signed in 1787",
    "titration is next week in chemistry lab",
    "the penis and the vagina are covered in the reproduction chapter",
    "sperm and egg cells are gametes",
    "the uterus lining sheds during menstruation",
    "the anus is the end of the digestive tract",
    "testicles produce testosterone",
    "breast cancer screening is in the health module",
    "the hymen is mentioned in the anatomy reading",
    "sexual reproduction mixes the genes of two parents",
    "Hitler came to power in 1933",
    "the Nazi party rose during the great depression",
    "the Ku Klux Klan was founded after the civil war",
    "slavery was abolished in the british empire in 1833",
    "the soldiers used napalm in the vietnam war",
    "the opium wars were between britain and china",
    "the Third Reich ended in 1945",
    "Essex and Sussex were anglo-saxon kingdoms",
    "the cumulative frequency graph is on page 40",
    "cumulus clouds mean fair weather",
    "add a pinch of cumin for the chemistry of cooking demo",
    "the fire retardant was tested in the lab",
    "the retardation of the car was 3 metres per second squared",
    "my therapist says I should take more breaks",
    "the peacock uses its tail for display",
    "Hancock is the author of the paper we read",
    "the woodcock migrates in autumn",
    "the blue-footed booby lives on the galapagos islands",
    "the shuttlecock in badminton",
    "Pissarro was an impressionist painter",
    "the Shiitake mushroom has a strong taste",
    "the grapes ferment into wine in the biology practical",
    "the arsenal of the navy grew before the war",
    "arsenic is a poisonous element",
    "parse the json before you loop over it",
    "the Cockney accent is from east london",
    "there is an erection of a new library on campus",
    "the analyst published a report on the economy",
    "the embassy was closed for the holiday",
    "the compass points north",
    "we passed the glass of water around",
    "Fukushima had a nuclear accident in 2011",
    "the Uranus flyby by Voyager 2 was in 1986",
    "the cucumber is technically a fruit",
    "she didn't snigger at the wrong answer",
    "Moby Dick is on the reading list",
    "the assassination of Caesar was in 44 BC",
]

ABUSIVE = [
    "shut up you fucking idiot",
    "you're such a dumbass, read the question",
    "this is bullshit, the teacher is a bitch",
    "fuck off and leave the room",
    "go kill yourself nobody likes you",
    "kys loser",
    "what a retard, you can't even add",
    "you stupid cunt",
    "stfu nobody asked you",
    "nice tits, send pics",
    "you're a whore",
    "eat shit",
    "piece of shit group partner",
    "get the fuck out of this room",
    "your mom is a slut",
    "what an asshole",
    "you motherfucker, give back my notes",
    "he's a faggot",
    "dickhead stop spamming",
    "suck my dick",
    "this class is full of morons",
    "shithead",
    "screw you, you bastard",
    "you're a prick",
    "wanker",
    "twat",
    "bitch please, you failed again",
    "fucking hell this room is full of idiots",
    "fuck this shit",
    "you cock, stop talking",
    "he's such a douchebag",
    "send nudes",
    "what a pussy, scared of one quiz",
    "you are a fucking moron",
    "shut the fuck up",
    "jackass",
    "kill yourself",
    "you dumb bitch",
    "I'll beat the shit out of you",
    "go to hell you bastard",
    "fucktard",
    "you're an imbecile",
    "slut",
    "the tutor is a dick",
    "your essay is shit and so are you",
    "bloody wanker",
    "arsehole",
    "fuck you",
    "cunt",
    "what a bellend",
    "you're a nigger",
    "piss off",
    "you absolute tosser",
    "stupid fucking question from a stupid fucking idiot",
    "no one wants you here, neck yourself",
    "you're a skank",
    "this room sucks dick",
    "motherfucking deadline",
    "cocksucker",
    "you twat, stop spamming the room",
]

# Written on 2026-12-07 after rules.toml was last edited, and scored once, as they are: a
# second held-out half (moderation-holdout.csv) that no rule was ever tuned on.
HOLDOUT_CLEAN = [
    "the cocktail party effect is in the psychology chapter",
    "Sussex university has a good biology department",
    "we are reading Great Expectations by Dickens this term",
    "the analysis of variance table is on slide 12",
    "the Battle of Hastings was in 1066",
    "Dick Turpin was a highwayman in the history reading",
    "the bird is called a great tit, it has a black head",
    "the vagina and the cervix are in the anatomy quiz",
    "Hitler invaded Poland in September 1939",
    "mitochondria are the powerhouse of the cell lol",
    "the assassination of Archduke Franz Ferdinand started the war",
    "we analysed the specimen under the microscope",
    "the shell of the crab is made of chitin",
    "the peacock butterfly has eye spots on its wings",
    "can someone pass me the notes on the Scunthorpe steel industry",
    "the penis is part of the male reproductive system",
    "bastard feudalism is a term from the late middle ages",
    "hello everyone, good luck with the exams tomorrow",
    "I am so tired of this assignment haha",
    "who has the answers for the cumulative review sheet",
]
HOLDOUT_ABUSIVE = [
    "you are such a fucking loser",
    "shut your mouth bitch",
    "this group is full of retards",
    "go fuck yourself",
    "you dickhead, stop copying my answers",
    "nobody cares, you cunt",
    "eat my shit",
    "what a stupid motherfucker",
    "you whore",
    "kys nobody wants you in this room",
]

# Written on 2026-12-07 (later), after the Scunthorpe lexicon and the names rule, and scored
# once, as they are (moderation-holdout2.csv). The first held-out set became a tuning set then:
# its two mistakes were fixed in rules.toml.
HOLDOUT2_SCUNTHORPE = [
    "the Cockcroft-Walton generator is in the physics syllabus",
    "we read Francis Fukuyama's essay for political science",
    "the dyke keeps the sea out of the polder, see the geography notes",
    "homozygous and heterozygous alleles are on the genetics quiz",
    "the Wankel engine has a rotary design",
    "oilseed rape is grown for vegetable oil",
    "the meltwater from the glacier formed the lake",
    "the raccoon is native to north america",
    "Dick Whittington was lord mayor of London",
    "Clitheroe castle is in Lancashire",
    "the sextant was used for navigation at sea",
    "the Shih Tzu and the cocker spaniel are both dog breeds",
    "Phuket was hit by the 2004 tsunami",
    "the buttocks contain the gluteus maximus muscle",
    "Hitchcock's Vertigo is on the film studies list",
    "my wristwatch stopped during the exam",
    "the assassins in Julius Caesar met at the senate",
    "Matsushita founded Panasonic, for the business case study",
    "Middlesex county no longer exists as an administration",
    "a prickly pear is a cactus",
    "the Pakistan movement led to partition in 1947",
    "the Scunthorpe United match is on saturday",
    "cumulonimbus clouds bring thunderstorms",
    "the spermatozoa swim towards the egg",
    "the vulva is part of the female anatomy",
    "Shitterton in Dorset came up in our place-names lecture",
    "the knob on the bunsen burner controls the gas",
    "the ball cock in the cistern controls the water level",
]
HOLDOUT2_STUDY = [
    "anyone up for a 50 minute focus block after lunch",
    "the hippopotamus is related to whales, who knew",
    "the therapist in the psychology video explained CBT",
    "a sample of saltwater boils at a higher temperature",
]
HOLDOUT2_ABUSIVE = [
    "shut up you dick",
    "you're a fucking disgrace",
    "get lost you stupid bitch",
    "what a shithead",
    "nobody likes you, kill yourself",
    "go fuck your mother",
    "you retarded piece of shit",
    "eat a dick",
    "useless cunt",
    "you're a bellend and a twat",
    "fuck this group",
    "nobody wants you, you slut",
]

# Each abusive sentence appears as written and with some of these.
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
SYMBOLS = {"a": "@", "s": "$", "i": "!"}
# Cyrillic look-alikes of a, e, o, c, p, x and i.
LOOKALIKE = {
    "a": "\u0430",
    "e": "\u0435",
    "o": "\u043e",
    "c": "\u0441",
    "p": "\u0440",
    "x": "\u0445",
    "i": "\u0456",
}


def _word_choice(words: list[str], rng: random.Random) -> int:
    longest = max(range(len(words)), key=lambda index: len(words[index]))
    return longest if rng.random() < 0.7 else rng.randrange(len(words))


def obfuscate(sentence: str, how: str, rng: random.Random) -> str:
    words = sentence.split(" ")
    index = _word_choice(words, rng)
    word = words[index]
    if how == "leet":
        word = "".join(LEET.get(c, c) if rng.random() < 0.6 else c for c in word)
    elif how == "symbols":
        word = "".join(SYMBOLS.get(c, c) for c in word)
    elif how == "separators":
        word = rng.choice([".", " ", "-", "_", "*"]).join(word)
    elif how == "repeats":
        vowels = [i for i, c in enumerate(word) if c in "aeiou"] or [len(word) - 1]
        at = rng.choice(vowels)
        word = word[:at] + word[at] * rng.randint(3, 6) + word[at + 1 :]
    elif how == "lookalike":
        word = "".join(LOOKALIKE.get(c, c) for c in word)
    elif how == "zero-width":
        word = "\u200b".join(word)
    elif how == "fullwidth":
        word = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)
    elif how == "asterisk":
        vowels = [i for i, c in enumerate(word) if c in "aeiou"]
        if vowels:
            at = rng.choice(vowels)
            word = word[:at] + "*" + word[at + 1 :]
    elif how == "caps":
        word = word.upper()
    words[index] = word
    return " ".join(words)


HOWS = [
    "leet",
    "symbols",
    "separators",
    "repeats",
    "lookalike",
    "zero-width",
    "fullwidth",
    "asterisk",
    "caps",
]


def half(sentence: str) -> str:
    digest = hashlib.sha256(sentence.encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "test"


def _abusive(sentence: str, variants: int, rng: random.Random) -> list[dict[str, str]]:
    """An abusive sentence as written, and ``variants`` obfuscations of it."""
    out = [{"text": sentence, "label": "abusive", "kind": "plain", "base": sentence}]
    for how in rng.sample(HOWS, variants):
        text = obfuscate(sentence, how, rng)
        out.append({"text": text, "label": "abusive", "kind": how, "base": sentence})
    return out


def rows(seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out: list[dict[str, str]] = []
    for sentence in CLEAN:
        out.append({"text": sentence, "label": "clean", "kind": "study", "base": sentence})
    for sentence in SCUNTHORPE:
        out.append({"text": sentence, "label": "clean", "kind": "scunthorpe", "base": sentence})
    for sentence in ABUSIVE:
        out += _abusive(sentence, 3, rng)
    return out


def holdout_rows(seed: int = 11) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = [
        {"text": sentence, "label": "clean", "kind": "holdout", "base": sentence}
        for sentence in HOLDOUT_CLEAN
    ]
    for sentence in HOLDOUT_ABUSIVE:
        out += _abusive(sentence, 2, rng)
    return out


def holdout2_rows(seed: int = 13) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = [
        {"text": sentence, "label": "clean", "kind": "scunthorpe", "base": sentence}
        for sentence in HOLDOUT2_SCUNTHORPE
    ]
    out += [
        {"text": sentence, "label": "clean", "kind": "study", "base": sentence}
        for sentence in HOLDOUT2_STUDY
    ]
    for sentence in HOLDOUT2_ABUSIVE:
        out += _abusive(sentence, 2, rng)
    return out


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, held in (("holdout", holdout_rows()), ("holdout2", holdout2_rows())):
        path = OUT / f"moderation-{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "label", "kind", "base"])
            writer.writeheader()
            writer.writerows(held)
    every = rows()
    for name in ("tune", "test"):
        path = OUT / f"moderation-{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "label", "kind", "base"])
            writer.writeheader()
            chosen = [row for row in every if half(row["base"]) == name]
            writer.writerows(chosen)
        sys.stderr.write(f"{path}: {len(chosen)} rows\n")


if __name__ == "__main__":
    main()

"""Generate data/contexts/contexts.txt: short English contexts for the embedding side f(x).

Every template and filler below was written for this book; nothing is copied from a corpus.
Each of the 60 templates is filled with each of the 20 subjects, giving 1,200 contexts that end
mid-sentence, where many different next tokens are plausible (words of our relations among them).
The output is deterministic: rerun with `python data/contexts/make_contexts.py`.
"""

from pathlib import Path

SUBJECTS = [
    "my brother", "the teacher", "our neighbour", "the old man", "a young woman",
    "the company", "the small village", "my best friend", "the little girl", "the new student",
    "the doctor", "her grandfather", "the football team", "a tired traveller", "the mayor",
    "our family", "the young artist", "the farmer", "his cousin", "the police officer",
]

TEMPLATES = [
    "Yesterday {s} said that the",
    "Everyone agreed that {s} was the",
    "When {s} opened the door, the room was",
    "In the morning {s} went to the",
    "{S} is one of the",
    "Compared with last year, {s} is much",
    "The capital of the country where {s} lives is",
    "After dinner {s} always",
    "Last week {s} bought two",
    "Nobody expected that {s} would",
    "The story about {s} begins when",
    "According to the report, {s} has",
    "I think {s} should never",
    "On a cold winter night {s}",
    "The letter from {s} was written in",
    "Before the game started, {s}",
    "It was clear that {s} felt very",
    "The house of {s} is next to the",
    "Every summer {s} travels to",
    "{S} could not find the",
    "The photo shows {s} standing in front of the",
    "Of all the people in town, {s} is the",
    "The reason {s} moved away was",
    "During the long trip {s} read a book about",
    "The weather was so bad that {s}",
    "Once upon a time {s}",
    "The best thing about {s} is",
    "Without any warning {s} suddenly",
    "The car that {s} drives is",
    "In the end {s} decided to",
    "People often ask {s} whether",
    "The garden behind the house of {s} has many",
    "At the meeting {s} asked whether the",
    "{S} and the",
    "It is not true that {s}",
    "The song that {s} likes most is about",
    "From the window {s} could see the",
    "When the war ended, {s}",
    "The first word that {s} learned was",
    "Tomorrow {s} will",
    "Nobody knows why {s} keeps a",
    "The last time I saw {s}, it was",
    "For breakfast {s} usually eats",
    "The newspaper wrote that {s} had",
    "In the photograph {s} is holding a",
    "Years ago {s} lived near the",
    "The only thing {s} ever wanted was",
    "While it was raining, {s} stayed in the",
    "The neighbours say that {s} is",
    "At the end of the day {s} felt",
    "On the way home {s} stopped at the",
    "The teacher told {s} to write about",
    "If {s} had more money, the",
    "The price that {s} paid for the",
    "During the holidays {s} visited the",
    "Late at night {s} heard a",
    "The map that {s} drew shows the",
    "A few minutes later {s} came back with",
    "The dog that belongs to {s} is",
    "Nothing could stop {s} from",
]


def contexts() -> list[str]:
    out = []
    for s in SUBJECTS:          # subject-major: the first n contexts cover as many templates as possible
        for t in TEMPLATES:
            out.append(t.format(s=s, S=s[0].upper() + s[1:]))
    assert len(set(out)) == len(out), "contexts must be distinct"
    return out


if __name__ == "__main__":
    lines = contexts()
    path = Path(__file__).with_name("contexts.txt")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} contexts to {path}")

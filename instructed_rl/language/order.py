"""Put the parts of a sequence in the order to do them, by the words that say when each one happens.

A corpus names its own connectives ("then", "after you"), and the rephraser reads others by
sentence similarity, which tells "then" from "after you" but not "before you" from "after you":
MiniLM puts "X before you Y" and "X after you Y" close together. Whether a part comes first is
said by a small closed class of English words, so it is read from them directly:

- adverbs that place their own part: "first", "to begin with", "beforehand" (earlier); "then",
  "next", "afterwards", "finally", "second" (later);
- subordinators that open a clause which happens first ("after you ...", "once you ...", "when
  you ...", "having ...", "as soon as you ...") or last ("before you ...", "prior to ...");
- the same subordinators pointing back at the other part ("after that", "before doing so",
  "when you are done", "once finished") place their own part the other way round.

:func:`doing_order` sorts parts by these words, stably: parts no such word places keep the
order they came in, so a corpus's plan and the rephraser's reading stand where the text has
no order word, and trained wordings are never reordered.
"""

from __future__ import annotations

import re

from instructed_rl.language.lexicon import CLOSED_CLASS_WORDS

# Adverbs and adverbial phrases, with where they place the part they stand in (negative:
# earlier than a part no word places; positive: later). Ordinals keep their own order.
PLACING_PHRASES: dict[tuple[str, ...], float] = {
    **{tuple(p.split()): -1.0 for p in (
        "first", "firstly", "first of all", "at first", "initially", "beforehand", "previously", "earlier",
        "to begin", "to start", "to begin with", "to start with", "begin by", "start by", "begin with", "start with",
        "before anything else", "before all else", "before everything else", "preceded by")},
    **{tuple(p.split()): 1.0 for p in (
        "then", "next", "afterwards", "afterward", "later", "subsequently", "thereafter", "after which",
        "eventually", "second", "secondly", "followed by")},
    **{tuple(p.split()): 2.0 for p in ("third", "thirdly")},
    **{tuple(p.split()): 3.0 for p in ("fourth", "fourthly")},
    **{tuple(p.split()): 9.0 for p in ("finally", "lastly", "last", "at last", "in the end", "at the end", "to finish",
                                       "to end")},
}

# Subordinators: where the clause they open happens relative to the other part.
OPENS_EARLIER = {("after",), ("once",), ("when",), ("whenever",), ("as", "soon", "as"), ("having",),
                 ("following",), ("upon",), ("on", "having")}
OPENS_LATER = {("before",), ("prior", "to"), ("ahead", "of")}

# Words that make a subordinator point back at the other part ("after that", "once done"):
# the part it stands in then happens after (for "after", "once") or before ("before that") it.
ANAPHORS = {"that", "this", "it", "so", "which", "then", "there", "those", "these", "done", "through", "over"}
# These point back where nothing follows them ("when you have finished, open ...") or where they
# say a state ("when you are finished pick up ...", "once you're ready go ..."); after "have" they
# name what to finish ("when you have finished open(ing) the door", "once you have completed the tour").
ENDING_ANAPHORS = {"finished", "complete", "completed", "ready"}
COPULAS = {"am", "are", "re", "is", "be"}
NAMES_WHAT_ENDS = CLOSED_CLASS_WORDS | {"the", "a", "an"}  # "when you are finished with the key"
ANAPHOR_REACH = 4  # words after the subordinator, up to a comma, that may point back

WORDS = re.compile(r"[a-z]+|[,;:.]")
EDGE_PUNCTUATION = " ,;:.?!"  # stripped from both ends of a part cut from a text


def _phrases_at(words: list[str], index: int, phrases) -> tuple[str, ...] | None:
    """The longest of ``phrases`` that starts at ``words[index]``."""
    best = None
    for phrase in phrases:
        if tuple(words[index:index + len(phrase)]) == phrase and (best is None or len(phrase) > len(best)):
            best = phrase
    return best


def _points_back(words: list[str], start: int) -> bool:
    """Whether the words after a subordinator (from ``start``) refer to the other part."""
    for index in range(start, min(start + ANAPHOR_REACH, len(words))):
        word = words[index]
        if word in ",;:.":
            return index == start  # "after, pick up ..."
        following = words[index + 1] if index + 1 < len(words) else ","
        says_state = words[index - 1] in COPULAS and not (following.endswith("ing") or following in NAMES_WHAT_ENDS)
        if word in ANAPHORS or (word in ENDING_ANAPHORS and (following in ",;:." or says_state)):
            return True
    return False


def without_placing_words(text: str) -> str:
    """``text`` less the order words that open or close it ("first drop the box near the ball" ->
    "drop the box near the ball"): they say when a part happens, not that it is two parts."""
    words = text.split()
    longest_first = sorted(PLACING_PHRASES, key=len, reverse=True)

    def bare(span: list[str]) -> tuple[str, ...]:
        return tuple(word.lower().strip(",;:.") for word in span)

    opening = next((p for p in longest_first if len(words) > len(p) and bare(words[:len(p)]) == p), ())
    words = words[len(opening):]
    closing = next((p for p in longest_first if len(words) > len(p) and bare(words[-len(p):]) == p), ())
    return " ".join(words[:len(words) - len(closing)]).strip(EDGE_PUNCTUATION)


def placement(text: str) -> float:
    """Where the words of ``text`` place it among the parts of its sequence: negative for
    earlier, positive for later, 0 when no word says (the sum over the order words found)."""
    words = WORDS.findall(text.lower().replace("'", " "))
    total, index = 0.0, 0
    while index < len(words):
        if words[index] == "next" and index + 1 < len(words) and words[index + 1] == "to":
            index += 2  # "put X next to Y" names a place, not a time
            continue
        for opens, sign in ((OPENS_EARLIER, -1.0), (OPENS_LATER, 1.0)):
            phrase = _phrases_at(words, index, opens)
            if phrase is not None:
                total += -sign if _points_back(words, index + len(phrase)) else sign
                index += len(phrase)
                break
        else:
            phrase = _phrases_at(words, index, PLACING_PHRASES)
            if phrase is not None:
                total += PLACING_PHRASES[phrase]
                index += len(phrase)
            else:
                index += 1
    return total


OPENING_REACH = 4  # words: where the order words of a part that opens with them stand


def _opens_placed(part: str) -> bool:
    """Whether ``part`` opens with words that place it earlier ("though before that ...", "but first ...")."""
    return placement(" ".join(part.split()[:OPENING_REACH])) < 0


def doing_order(parts: list[str]) -> list[str]:
    """``parts`` sorted by :func:`placement`, stably (unplaced parts keep their order). An unplaced
    part goes with the part before it where that one opens with words that place it earlier: "X,
    plus Y, though before that Z, plus W" does Z and W before X and Y (but "Z first and W" closes
    Z's words)."""
    if len(parts) < 2:
        return list(parts)
    places = [placement(part) for part in parts]
    if not any(places):
        return list(parts)
    for index in range(1, len(places)):
        if places[index] == 0 and places[index - 1] < 0 and _opens_placed(parts[index - 1]):
            places[index] = places[index - 1]
    return [part for _, part in sorted(zip(places, parts), key=lambda pair: pair[0])]

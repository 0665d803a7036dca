"""The pointer reader: an instruction word the description defines is rewritten as the words it
is bound to there, before the policy reads the instruction.

"bring the tadostos to the teskule" with "The red key is the tadostos. ... The grey ball is the
teskule." becomes "bring the red key to the grey ball", which the skills policy was trained on.

How it reads (a copy mechanism, as in pointer networks):

1. **Match by identity.** Every instruction word that also occurs in the description (the same
   surface word: an invented word has no learned meaning to match by) is a query, except
   English's function words ("over" in "go over to" and "over there" names nothing). The pointer
   reads a type said of a whole kind in the singular (:func:`pointer_text`: "Gelmis are balls."),
   so that it copies one object's type, as an instruction names one.
2. **Point.** For each query, a small transformer runs over the description's encoder features,
   each token attending within its own sentence, with one learned "this word" vector added to
   the matched word's tokens. Optional cross layers then let each token also attend to every
   occurrence of its own word in the other sentences (how the description uses that word
   elsewhere: "a green ball" in a list of objects learns that another sentence says touching
   the green ball ends the game). It scores every word of the sentences that hold the matched
   word, the matched word itself included, by where it stands and by what it is: copy it or not.
3. **Copy.** The query word is replaced by the words scored above one half, in the description's
   order; with none, it stays as it is (a real word the description merely mentions, "the
   green ball" in "It holds a green ball.", is kept). Copying the word itself with others
   narrows it: "go to a ball" becomes "go to a blue ball" when the description says the other
   balls end the game.
4. **Read as one object** (where an agent reads before it acts: :func:`rewrite` with
   ``as_the_policy_reads``): a copy keeps only its colours and types, the instruction's own
   colour and type stand, and where the copy's sentence names several types ("A rurgos is a box
   or a ball"), the one the description lists in the named colour is read, if only one is; also
   where the pointer copied nothing for a word of such a sentence.

What to copy is learned, from the env's own answer (:func:`pointer_labels`: the mission phrased
with every object's colour and type). No rule of the copy knows about roles, colours or
categories: a family never trained tests what the scorer learned, not a parser. Step 4 is a
rule, of the policy's vocabulary and the description's list of objects, and the pointer's
training scores the copy before it.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from instructed_rl.language.lexicon import CLOSED_CLASS_WORDS
from instructed_rl.language.vocabulary import CARRIABLE_TYPES, COLORS, NUMBER_WORDS, OBJECT_TYPES, plural, singulars
from instructed_rl.model.reader import SentenceContext
from instructed_rl.model.text.encoders import TextFeatures, Word, text_words, word_key

COPY_THRESHOLD = 0.5
MIN_NOUN = 3  # letters: shorter words ("a", "as", "is") are never looked up in another number, but for "bo" as "bos"
FILLER_SHARE = 0.5  # of training descriptions that get filler words
MAX_FILLERS = 3
Unit = tuple[int, int]  # (sentence index, word key): one word of the description that can be copied
# Articles differ between a mission and its plain form ("a ball", "the blue ball") without
# changing what is meant: labels and the exact-read score look past them.
ARTICLES = frozenset({"a", "an", "the"})


@dataclass(frozen=True)
class Query:
    """One instruction word the description mentions: copy candidates are the other words of the
    sentences that hold it."""

    row: int  # which (instruction, description) pair
    key: int  # the instruction word
    units: tuple[Unit, ...]
    described: int = 0  # the description's form of it where that differs ("dobels" for "dobel"), else 0

    @property
    def marked(self) -> int:
        """The word the pointer looks for in the description."""
        return self.described or self.key


class PointerReader(nn.Module):
    """Scores, for each query, every description token: copy it into the query word or not. It
    reads the encoder's projected tokens, or with ``input_dim`` the frozen model's own tokens
    through a projection of its own (:attr:`PolicyConfig.pointer_projection`)."""

    def __init__(self, dim: int, *, heads: int = 2, layers: int = 2, cross_layers: int = 0,
                 input_dim: int | None = None) -> None:
        super().__init__()
        # With ``input_dim``: reads the frozen text model's tokens through this projection of its own.
        self.token_proj = nn.Linear(input_dim, dim) if input_dim else None
        self.this_word = nn.Parameter(torch.randn(dim) * 0.02)
        self.context = SentenceContext(dim, heads, layers)
        self.heads = heads
        self.cross = nn.ModuleList(_quiet_layer(dim, heads) for _ in range(cross_layers))
        self.norm = nn.LayerNorm(dim)
        self.score = nn.Linear(dim, 1)
        # What a word is, apart from where it stands: in training, articles and verbs are never
        # copied, colours and types always are; a sentence of a wording never seen still has them.
        self.own_norm = nn.LayerNorm(dim)
        self.own_score = nn.Linear(dim, 1)

    def forward(self, description: TextFeatures, rows: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Copy logits (N, S) of each description token for queries (``rows``, ``keys``) (N,)."""
        if description.words is None or description.sentences is None:
            raise ValueError("the pointer reader needs word identities and sentence indices from the text encoder "
                             "(the pretrained encoder gives them)")
        tokens = description.tokens[rows].detach()  # the policy's training must not move what the pointer reads
        if self.token_proj is not None:
            tokens = self.token_proj(tokens)
        words, mask = description.words[rows], description.mask[rows]
        marked = (words == keys.unsqueeze(1)) & mask
        sentences = description.sentences[rows]
        hidden = self.context(tokens + marked.unsqueeze(-1) * self.this_word, mask, sentences)
        if len(self.cross):
            # Its own sentence, and its own word wherever else it stands (not padding, not [CLS]).
            same_word = (words.unsqueeze(1) == words.unsqueeze(2)) & (words != 0).unsqueeze(1)
            allowed = (same_word | (sentences.unsqueeze(1) == sentences.unsqueeze(2)))
            allowed = allowed & mask.unsqueeze(1) & mask.unsqueeze(2)
            allowed = allowed | torch.eye(words.shape[1], dtype=torch.bool, device=words.device)
            blocked = (~allowed).repeat_interleave(self.heads, dim=0)
            for layer in self.cross:
                hidden = layer(hidden, src_mask=blocked)
        return (self.score(self.norm(hidden)) + self.own_score(self.own_norm(tokens))).squeeze(-1)


def _quiet_layer(dim: int, heads: int) -> nn.TransformerEncoderLayer:
    """A pre-norm layer whose residual branches start at zero: added to a trained reader, it
    changes nothing until it learns something."""
    layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
    for linear in (layer.self_attn.out_proj, layer.linear2):
        nn.init.zeros_(linear.weight)
        nn.init.zeros_(linear.bias)
    return layer


_SINGULAR_OF = {plural(t): t for t in CARRIABLE_TYPES}
_PLURAL_TYPES = re.compile(r"\b(" + "|".join(_SINGULAR_OF) + r")\b", re.IGNORECASE)
_OWN_WORDS = frozenset(word_key(word) for word in (*COLORS, *OBJECT_TYPES))
# Words that make a plural a count of objects in the world ("two grey balls"), not a kind.
_COUNTING = frozenset(COLORS) | frozenset(NUMBER_WORDS.values()) | {"gray", "many", "several", "some", "few"}


def pointer_text(description: str) -> str:
    """The description as the pointer reads it: a carriable type spoken of as a kind, in the
    plural, in the singular ("Gelmis are balls." reads "Gelmis are ball."; "two grey balls" stays).
    A rule of every such object names the type in the plural, an instruction one object; in the
    singular, what the pointer copies is a word it learned to copy, whatever the type (nouns for
    boxes are held out of training, in both numbers). A sentence that names two types ("Dobels
    are balls and keys.") stays as written: no single object answers it, and the policy acts
    worse on both types copied than on the word unread."""
    def singular(sentence: str) -> str:
        if len({type_ for type_ in CARRIABLE_TYPES if re.search(rf"\b{type_}(e?s)?\b", sentence, re.IGNORECASE)}) != 1:
            return sentence
        return _PLURAL_TYPES.sub(lambda match: _singular_unless_counted(sentence, match), sentence)
    return "".join(singular(piece) for piece in re.split(r"([.!?;]+)", description))


def _singular_unless_counted(sentence: str, match: re.Match) -> str:
    before = re.search(r"(\w+)\W*$", sentence[:match.start()])
    word = match.group()
    if before is not None and (before.group(1).lower() in _COUNTING or before.group(1).isdigit()):
        return word
    return word[:len(_SINGULAR_OF[word.lower()])]


# A word of the instruction written with marks inside: a hyphen ("plitel-britel"), an apostrophe
# ("k'tar"; not a contraction, "don't", "it's") or digits ("b4x", "c3po").
_MARKED_NAME = re.compile(r"(?<![\w'\u2019-])[^\W_]+(?:[-'\u2019][^\W_]+)*")
_CONTRACTION = re.compile(r"['\u2019](?:s|t|re|ll|ve|d|m)$", re.IGNORECASE)
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _as_letters(name: str) -> str:
    return "".join(_DIGIT_WORDS[int(c)] if c.isdigit() else c for c in name if c.isalpha() or c.isdigit())


def names_joined(instruction: str, description: str) -> tuple[str, str, dict[str, str]]:
    """The two texts with each word of the instruction written with marks inside (a hyphen, an
    apostrophe, digits) written as letters only in both ("plitel-britel" and "Plitel-britels"
    become "plitelbritel" and "plitelbritels"; "b4x" becomes "bfourx"), and each joined word ->
    the word as the instruction writes it. The pointer learned names of letters only: a mark
    inside a name it must find in both texts threw its reading (hyphens: RoleRoom 38 and
    WordRoom 36 of 40 worlds, 40 and 40 written as one word; apostrophes and digits: none of 80
    role worlds read, the name being cut in two words)."""
    written = {}
    for match in _MARKED_NAME.finditer(instruction):
        name = match.group()
        if name.isalpha() or not any(c.isalpha() for c in name) or _CONTRACTION.search(name):
            continue
        written[_as_letters(name).lower()] = name
    if not written:
        return instruction, description, {}
    def join(text: str) -> str:
        for original in written.values():
            text = re.sub(rf"(?<![\w'\u2019-]){re.escape(original)}(?=(?:e?s)?\b)", _as_letters(original).lower(), text,
                          flags=re.IGNORECASE)
        return text
    return join(instruction), join(description), written


def names_restored(text: str, written: dict[str, str]) -> str:
    """``text`` with the words :func:`names_joined` wrote as letters written as before, where the
    pointer left them."""
    for joined, original in written.items():
        text = re.sub(rf"\b{re.escape(joined)}\b", original, text)
    return text


def find_queries(instructions: Sequence[str], descriptions: Sequence[str]) -> list[Query]:
    """Each distinct instruction word that occurs in its description, with its copy candidates:
    every word of the sentences that hold it, itself included. A word the description has only
    in the other number ("a dobel" where it says "Dobels are ...") is found in that form, unless
    it is one of the object words the policy knows ("key" is not looked up as "keys")."""
    queries = []
    for row, (instruction, description) in enumerate(zip(instructions, descriptions)):
        described = text_words(description)
        sentences_of: dict[int, set[int]] = {}
        for word in described:
            sentences_of.setdefault(word.key, set()).add(word.sentence)
        plural_of = {word_key(form): word.key for word in described if len(word.text) > MIN_NOUN
                     for form in singulars(word.text.lower())}
        for key, text in {w.key: w.text.lower() for w in text_words(instruction)}.items():
            if text in CLOSED_CLASS_WORDS or text in ARTICLES:  # "go over to ..." where the description says "over there"
                continue
            marked = key if key in sentences_of else 0
            if not marked and len(text) >= MIN_NOUN and text not in OBJECT_TYPES:  # the other number: plural there, or here
                marked = plural_of.get(key) or next(
                    (word_key(form) for form in singulars(text) if word_key(form) in sentences_of), 0)
            elif not marked and len(text) == MIN_NOUN - 1 and word_key(text + "s") in sentences_of:
                marked = word_key(text + "s")  # a name of two letters: "bo" as "bos" ("go" is not "goes")
            if not marked:
                continue
            units = tuple(dict.fromkeys((w.sentence, w.key) for w in described
                                        if w.sentence in sentences_of[marked]))
            if units:
                queries.append(Query(row, key, units, 0 if marked == key else marked))
    return queries


def unit_logits(logits: torch.Tensor, description: TextFeatures, queries: list[Query]) -> list[torch.Tensor]:
    """Per query, one logit per candidate unit: the mean of its tokens' logits (-1e4 for a unit
    with no token). All units of all queries in one masked sum: a reading batch has thousands
    of units, and a few small ops apiece cost a sixth of a warm-up step."""
    device = logits.device
    owner = torch.tensor([i for i, q in enumerate(queries) for _ in q.units], dtype=torch.long, device=device)
    rows = torch.tensor([q.row for q in queries], dtype=torch.long, device=device)[owner]
    units = torch.tensor([unit for q in queries for unit in q.units], dtype=torch.long, device=device).reshape(-1, 2)
    tokens = ((description.sentences[rows] == units[:, :1]) & (description.words[rows] == units[:, 1:])
              & description.mask[rows])
    counts = tokens.sum(1)
    sums = torch.where(tokens, logits[owner], 0.0).sum(1)  # not a product: no other token's logit reaches it
    values = torch.where(counts > 0, sums / counts.clamp(min=1), sums.new_tensor(-1e4))
    return list(values.split([len(q.units) for q in queries]))


def score_queries(pointer: PointerReader, description: TextFeatures,
                  queries: list[Query]) -> list[torch.Tensor]:
    """Copy logits per query and candidate unit."""
    if not queries:
        return []
    device = description.tokens.device
    rows = torch.tensor([q.row for q in queries], dtype=torch.long, device=device)
    keys = torch.tensor([q.marked for q in queries], dtype=torch.long, device=device)
    return unit_logits(pointer(description, rows, keys), description, queries)


def rewrite(instructions: Sequence[str], descriptions: Sequence[str], queries: list[Query],
            scores: list[torch.Tensor], *, as_the_policy_reads: bool = False) -> list[str]:
    """The instructions with each query word replaced by the units it copies (if any); with
    ``as_the_policy_reads``, each copy read as one object said by colour and type
    (:func:`_as_read`), as an agent reads before it acts. Without, the copy as the pointer
    chose it: what its training scores."""
    copies: dict[tuple[int, int], list[Unit]] = {}
    uncopied: dict[tuple[int, int], set[int]] = {}  # a word the policy does not know, copied nothing for: its sentences
    for query, logits in zip(queries, scores):
        chosen = [unit for unit, p in zip(query.units, torch.sigmoid(logits).tolist()) if p > COPY_THRESHOLD]
        if query.key in _OWN_WORDS and all(key != query.key for _, key in chosen):
            continue  # a colour or type the policy knows is narrowed ("a ball": "a blue ball"), never replaced
        if chosen:
            copies[(query.row, query.key)] = chosen
        elif query.key not in _OWN_WORDS and as_the_policy_reads:
            uncopied[(query.row, query.key)] = {sentence for sentence, _ in query.units}
    out = []
    for row, (instruction, description) in enumerate(zip(instructions, descriptions)):
        described = text_words(description)
        text = instruction
        for word in reversed(text_words(instruction)):
            chosen = copies.get((row, word.key))
            before = text[:word.start].split()[-1:]
            if chosen and not as_the_policy_reads:
                words = [w.text.lower() for w in _copied_words(described, chosen)]
            elif chosen:
                words = _as_read(_copied_words(described, chosen), before, described,
                                 own=word.text.lower() if word.key in _OWN_WORDS else None)
            elif (row, word.key) in uncopied:
                words = _one_type_listed(uncopied[(row, word.key)], before, described)
            else:
                continue
            surfaces = " ".join(words)
            if surfaces:
                text = text[:word.start] + surfaces + text[word.end:]
        out.append(text)
    return out


def _as_read(copied: list[Word], before: list[str], described: Sequence[Word], own: str | None = None) -> list[str]:
    """The copied words as the policy reads them after the word ``before`` them in the instruction,
    one object said by colour and type as the pointer's labels say it: only the colours and
    types copied ("the colour red" is "red"; "lump" in "We lump balls and keys together" is no
    word of an object); the instruction's own colour and type where it says them ("the blue key"
    narrowed by a copy "red key" stays blue; the ``own`` word "ball" copied with "box" stays a
    ball: its own words are narrowed, never changed); and one object type where the copy's
    sentence names several ("either a box or a ball") and the description lists an object of the
    named colour for only one of them ("the grey rurgos" where the room has a grey ball and no
    grey box); and the colour said right before a type copied alone, for a name the instruction
    does not colour (:func:`_with_its_colour`)."""
    words = [w.text.lower() for w in copied if w.text.lower() in COLORS or _type_of(w.text) in OBJECT_TYPES]
    if own is None and len(words) == 1 and words[0] not in COLORS:
        words = _with_its_colour(copied, words, described)
    if before and before[0].lower() in COLORS:
        words = [w for w in words if w not in COLORS]
    if own in OBJECT_TYPES:
        colors = [w for w in words if _type_of(w) not in OBJECT_TYPES]
        listed = _listed(described) if colors else set()
        if colors and (colors[-1], own) not in listed and any(kind == own for _, kind in listed):
            return [own]  # "a purple ball" where the room lists balls but no purple one: a colour copied astray
        return colors + [own]
    if own is not None:
        return words
    present = _one_type_listed({w.sentence for w in copied}, before + words, described)
    if not present:
        return words
    return [w for w in words if _type_of(w) not in OBJECT_TYPES] + present


def _with_its_colour(copied: list[Word], words: list[str], described: Sequence[Word]) -> list[str]:
    """``words``, one type copied alone, with the colour the description says right before it ("the
    purple ball" copied as "ball" is "purple ball"): the pointer's labels copy an object's colour
    with its type, and a name's own object is one the description says by both."""
    typed = next(w for w in copied if w.text.lower() == words[0])
    at = next((k for k, w in enumerate(described) if w.start == typed.start), None)
    if at and described[at - 1].sentence == typed.sentence and described[at - 1].text.lower() in COLORS:
        return [described[at - 1].text.lower(), *words]
    return words


def _type_of(word: str) -> str:
    """A type word in the singular ("balls": "ball"); any other word in lower case."""
    return _SINGULAR_OF.get(word.lower(), word.lower())


def _listed(described: Sequence[Word]) -> set[tuple[str, str]]:
    """Each (colour, type) the description says side by side, not after "no" ("There is no red ball")."""
    return {(first.text.lower(), _type_of(second.text))
            for before, first, second in zip([None, *described], described, described[1:])
            if first.sentence == second.sentence and first.text.lower() in COLORS
            and not (before is not None and before.text.lower() == "no")}


def _one_type_listed(sentences: set[int], said: list[str], described: Sequence[Word]) -> list[str]:
    """Of the object types the given ``sentences`` name, where they name several, the one the
    description lists with the last colour ``said`` ("a grey ball" and no grey box), as a
    list of one; [] where no colour is said or not exactly one such type is listed. Also what a
    word the pointer copied nothing for reads as ("Rurgoss are boxes and balls."). "There is no
    red ball here." lists no red ball."""
    colors = [w for w in said if w in COLORS]
    named = {_type_of(w.text) for w in described if w.sentence in sentences}
    if not colors or len(named & set(OBJECT_TYPES)) < 2:
        return []
    present = [kind for kind in OBJECT_TYPES if kind in named and (colors[-1], kind) in _listed(described)]
    return present if len(present) == 1 else []


def _copied_words(described: Sequence[Word], chosen: list[Unit]) -> list[Word]:
    """The description's words for the chosen units, in the shortest stretch of each sentence
    that holds them all ("a green ball, a red ball" copies "red ball", not "ball ... red")."""
    words = []
    for sentence in sorted({s for s, _ in chosen}):
        keys = {k for s, k in chosen if s == sentence}
        line = [w for w in described if w.sentence == sentence]
        best: tuple[int, int] | None = None
        for start in range(len(line)):
            seen: set[int] = set()
            for end in range(start, len(line)):
                if line[end].key in keys:
                    seen.add(line[end].key)
                if seen == keys:
                    if best is None or end - start < best[1] - best[0]:
                        best = (start, end)
                    break
        if best is None:
            continue
        taken: set[int] = set()
        for w in line[best[0]:best[1] + 1]:
            if w.key in keys and w.key not in taken:
                taken.add(w.key)
                words.append(w)
    return words


def pointer_labels(instruction: str, description: str, plain: str, query: Query) -> list[float]:
    """1 for the candidate units the query word should be replaced by, from ``plain`` (the same
    mission with every object named by colour and type), aligned word by word with the mission:

    - one instruction word became several plain words ("tadostos" -> "red key"): those words,
      where they all stand in one sentence holding it;
    - a word that stays but gains words before it ("a ball" -> "the blue ball"): the gained words
      (articles aside) and the word itself, where they all stand in one sentence holding it;
    - otherwise, or where no sentence holds the answer, nothing."""
    said, meant = text_words(instruction), text_words(plain)
    if any(w.key == query.key and w.text.lower() in ARTICLES for w in said):
        return [0.0] * len(query.units)  # an article is never rewritten
    matcher = difflib.SequenceMatcher(a=[w.key for w in said], b=[w.key for w in meant], autojunk=False)
    opcodes = matcher.get_opcodes()
    answers: list[list[int]] = []
    for index, (op, a0, a1, b0, b1) in enumerate(opcodes):
        if op == "replace" and a1 - a0 == 1 and said[a0].key == query.key:
            answers.append([w.key for w in meant[b0:b1] if w.text.lower() not in ARTICLES])
        elif op == "equal" and said[a0].key == query.key and index > 0:
            before, p0, p1, q0, q1 = opcodes[index - 1]
            # Gained words, unless a replaced word of the mission already accounts for them.
            if before in ("replace", "insert") and all(w.text.lower() in ARTICLES for w in said[p0:p1]):
                gained = [w.key for w in meant[q0:q1] if w.text.lower() not in ARTICLES]
                if gained:
                    answers.append(gained + [query.key])
    for replacement in filter(None, answers):
        for sentence in dict.fromkeys(s for s, _ in query.units):
            if all((sentence, key) in query.units for key in replacement):
                wanted = {(sentence, key) for key in replacement}
                return [1.0 if unit in wanted else 0.0 for unit in query.units]
    return [0.0] * len(query.units)


def same_reading(read: str, plain: str) -> bool:
    """Whether a read instruction says what the plain mission says: the same words, articles aside."""
    def content(text: str) -> list[str]:
        return [w.text.lower() for w in text_words(text) if w.text.lower() not in ARTICLES]

    return content(read) == content(plain)


def pointer_loss(pointer: PointerReader, description: TextFeatures, instructions: Sequence[str],
                 descriptions: Sequence[str], plains: Sequence[str]) -> tuple[torch.Tensor, float]:
    """Binary cross-entropy of every copy decision against :func:`pointer_labels`, and the
    fraction of examples whose rewritten instruction says what the plain one says (:func:`same_reading`)."""
    queries = find_queries(instructions, descriptions)
    scores = score_queries(pointer, description, queries)
    if not scores:
        return description.tokens.sum() * 0.0, float(all(same_reading(i, p) for i, p in zip(instructions, plains)))
    labels = [torch.tensor(pointer_labels(instructions[q.row], descriptions[q.row], plains[q.row], q),
                           device=s.device) for q, s in zip(queries, scores)]
    loss = F.binary_cross_entropy_with_logits(torch.cat(scores), torch.cat(labels))
    with torch.no_grad():
        read = rewrite(instructions, descriptions, queries, [s.detach() for s in scores])
    exact = sum(same_reading(r, p) for r, p in zip(read, plains)) / max(1, len(plains))
    return loss, exact


@functools.lru_cache(maxsize=1)
def filler_words() -> tuple[str, ...]:
    """Ordinary English words to scatter through training descriptions: the whole-word entries
    of MiniLM's vocabulary (about 21,000). Empty without the pretrained extra."""
    try:
        from transformers import AutoTokenizer

        from instructed_rl.model.text.encoders import pretrained_model_dir
        vocabulary = AutoTokenizer.from_pretrained(pretrained_model_dir(), local_files_only=True).vocab
    except Exception:  # noqa: BLE001 - no pretrained package: train without fillers
        return ()
    return tuple(sorted(w for w in vocabulary if re.fullmatch(r"[a-z]{3,12}", w)))


def add_fillers(description: str, rng: np.random.Generator, *, keep_out: set[str]) -> str:
    """``description`` with one to three random ordinary words put before random words of it.

    A wording never seen holds words never seen ("Whenever you hear X, think of the blue box");
    training descriptions use a few templates, so without this the pointer learns to copy
    whatever stands in a defining sentence's object slot. A filler is never the answer (it
    is not in the plain mission: ``keep_out``), so the pointer learns that a word it does not
    know is not copied for being there."""
    words, fillers = text_words(description), filler_words()
    if not words or not fillers or rng.random() >= FILLER_SHARE:
        return description
    for _ in range(int(rng.integers(1, MAX_FILLERS + 1))):
        filler = fillers[int(rng.integers(len(fillers)))]
        if filler in keep_out:
            continue
        at = words[int(rng.integers(len(words)))].start
        description = description[:at] + filler + " " + description[at:]
        words = text_words(description)
    return description


"""The reader's auxiliary loss: name the object(s) an instruction means, read through the description.

A policy built with ``read_description`` lets each instruction token attend over the
description's tokens (:meth:`instructed_rl.model.policy.Policy.read_instruction`). Behaviour cloning
alone teaches that attention slowly: whether "the treasure" meant the green ball shows up only
as a few better actions many steps later. The env knows the answer (its structured instruction
names the real object), so a target head is trained to name it: (colour, type) of the object
and of put next to's second object (:func:`instructed_rl.language.instructions.instruction_targets`).

Two uses: every imitation update adds ``reading_coef`` times this loss, and ``reading_warmup``
steps of it run before the first episode is collected. The warm-up needs only env resets
(instruction + description + answer), no bot and no steps, so it is cheap: ~1,500 steps of
32 examples take about 90 s on 2 cores. What the warm-up reaches is in docs/reading.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from instructed_rl.games.descriptions import CONTENTS
from instructed_rl.games.descriptions import RULES as RULE_TEMPLATES
from instructed_rl.games.descriptions import fact_slots, phrase
from instructed_rl.games.fresh_words import fresh_words
from instructed_rl.games.rule_wordings import reworded
from instructed_rl.language.instructions import NO_TARGET, instruction_targets
from instructed_rl.language.vocabulary import CARRIABLE_TYPES, COLORS, plural
from instructed_rl.model.policy import GoalFeatures
from instructed_rl.model.text.encoders import text_words
from instructed_rl.train.memory import release_freed_memory
from instructed_rl.train.optim import make_adam

WARMUP_BATCH = 32
WARMUP_WORLDS_PER_GAME = 5000  # distinct worlds matter: with 2,000 the reader memorised them and held-out reading fell
WARMUP_LR = 1e-3
ACCURACY_BATCH = 256
WARMUP_LOG_EVERY = 500
TRIM_EVERY = 50  # steps between giving freed memory back (each step's texts leave heap pieces of every size)
RENAME_SHARE = 0.3  # of training examples whose colour and type names are renamed
RENAME_EACH = 0.5  # chance that each name present is renamed, in such an example
# Names the renaming may replace; a plural is renamed with the same word plus "s".
RENAMEABLE = COLORS + CARRIABLE_TYPES
REWORD_EACH = 0.5  # chance that a rule sentence is restated, in the reading steps of ``reading_reword``
LIST_DROP_SHARE = 0.3  # of descriptions whose object list is dropped, with ``without_lists``
# The sentences of the template family that list a room's objects ("It holds a red ball and a grey key.").
_CONTENTS_SENTENCES = [re.compile(re.escape(t).replace(re.escape("{objects}"), ".+"))
                       for t in (*CONTENTS.train, *CONTENTS.heldout)]
WARMUP_SEED_OFFSET = 50_000_000  # far from the seeds episodes use, so warm-up worlds are other worlds


@dataclass(frozen=True)
class ReadingExample:
    instruction: str
    description: str
    target: tuple[int, ...]
    plain: str = ""
    rules: tuple[dict, ...] = ()  # the rules the description states (``info["rules"]``)


def reading_loss(agent, goal: GoalFeatures, targets: list[tuple[int, ...]]) -> tuple[torch.Tensor, float]:
    """Cross-entropy of the target head against ``targets`` (one tuple per goal row; slots
    without a label are skipped), and the fraction of rows whose every labelled slot is right."""
    labels = torch.tensor(targets, dtype=torch.long, device=agent.device)  # (B, slots)
    logits = agent.policy.target_logits(goal)
    losses, right = [], torch.ones(len(targets), dtype=torch.bool, device=agent.device)
    for slot, slot_logits in enumerate(logits):
        labelled = labels[:, slot] != NO_TARGET
        if labelled.any():
            losses.append(F.cross_entropy(slot_logits[labelled], labels[labelled, slot]))
            right &= ~labelled | (slot_logits.argmax(-1) == labels[:, slot])
    loss = torch.stack(losses).sum() if losses else logits[0].sum() * 0.0
    return loss, right.float().mean().item()


def reading_examples(games: list[str], *, corpus: str, split: str, worlds_per_game: int,
                     seed: int) -> list[ReadingExample]:
    """(instruction, description, answer) of fresh worlds of each game's ``split``: resets only."""
    from instructed_rl.games.env import InstructedEnv

    examples = []
    for game in games:
        env = InstructedEnv(game, split=split, corpus=corpus)
        for index in range(worlds_per_game):
            obs, info = env.reset(seed=seed + index)
            examples.append(ReadingExample(obs["mission"], obs["description"],
                                           instruction_targets(env.unwrapped.level.instrs), env.plain_mission,
                                           tuple(info.get("rules", ()))))
    return examples


def reading_accuracy(agent, examples: list[ReadingExample], *, batch: int = ACCURACY_BATCH) -> float:
    """Fraction of examples whose every labelled slot the target head names right."""
    right = 0.0
    with torch.no_grad():
        for start in range(0, len(examples), batch):
            chunk = examples[start:start + batch]
            goal = agent.encode_goal([e.instruction for e in chunk], [e.description for e in chunk])
            right += reading_loss(agent, goal, [e.target for e in chunk])[1] * len(chunk)
    return right / max(1, len(examples))


def rename_names(texts: Sequence[str], rng: np.random.Generator) -> list[str]:
    """``texts`` (an instruction, its description and its plain mission) with some colour and
    type names replaced, the same way in every text, by fresh invented words.

    The pointer should match a word by what the description says of it, not by which colour it
    is: a reader that saw only some colours stated as hazards learns those pairings and misses
    a hazard it never saw stated. Renamed examples say the same things with names it cannot
    have learned anything about. Only the text-only reading steps see them; the words come from
    the training source (:mod:`instructed_rl.games.fresh_words`), never the reserved one."""
    if rng.random() >= RENAME_SHARE:
        return list(texts)
    present = {w.text.lower() for text in texts for w in text_words(text)}
    names = [n for n in RENAMEABLE if (n in present or plural(n) in present) and rng.random() < RENAME_EACH]
    if not names:
        return list(texts)
    renamed = dict(zip(names, fresh_words(rng, len(names))))
    surfaces = dict(renamed)
    surfaces.update({plural(name): new + "s" for name, new in renamed.items()})
    pattern = re.compile(r"\b(" + "|".join(sorted(surfaces, key=len, reverse=True)) + r")\b", re.IGNORECASE)

    def swap(match: re.Match) -> str:
        new = surfaces[match.group().lower()]
        return new.capitalize() if match.group()[0].isupper() else new

    return [pattern.sub(swap, text) for text in texts]


def reword_rules(description: str, rules: Sequence[dict], rng: np.random.Generator) -> str:
    """``description`` with each rule sentence of a trained family restated, with chance
    :data:`REWORD_EACH`, by :func:`instructed_rl.games.rule_wordings.reworded`."""
    for rule in rules:
        if rng.random() >= REWORD_EACH:
            continue
        fresh = reworded(rule["kind"], rule["word"], rule["color"], rule["type"] or "", rng)
        if fresh is None:
            continue
        slots = fact_slots(rule["word"], rule["color"], rule["type"] or "", rule.get("type2"))
        for template in RULE_TEMPLATES[rule["kind"]].train:
            stated = phrase(template, slots)
            if stated in description:
                description = description.replace(stated, fresh, 1)
                break
    return description


def without_object_list(description: str, instruction: str, plain: str, rng: np.random.Generator) -> str:
    """``description`` without its sentence listing the room's objects, with chance
    :data:`LIST_DROP_SHARE`, where every word the plain mission reads that the instruction does
    not say stands in another sentence.

    Every training description lists the room's objects, and the pointer learned to copy only
    beside such a list: with "Call the grey ball the bunsansi." and no list it copied nothing
    (RoleRoom 23 of 50 worlds). A description a user writes need not list anything. Where the
    answer is only in the list ("pick up a key" read "pick up the green key" because the red
    key is a hazard), the list stays: without it there is nothing right to copy."""
    if rng.random() >= LIST_DROP_SHARE:
        return description
    sentences = re.split(r"(?<=[.!?])\s+", description)
    kept = [s for s in sentences if not any(pattern.fullmatch(s) for pattern in _CONTENTS_SENTENCES)]
    if len(kept) == len(sentences) or not kept:
        return description
    rest = " ".join(kept)
    said = {w.text.lower() for w in text_words(instruction)}
    still_there = {w.text.lower() for w in text_words(rest)}
    if any(w.text.lower() not in said and w.text.lower() not in still_there for w in text_words(plain)):
        return description
    return rest


def pointer_reading_loss(agent, examples: list[ReadingExample],
                         rng: np.random.Generator | None = None, *, reword: bool = False,
                         without_lists: bool = False) -> tuple[torch.Tensor, float]:
    """The pointer reader's loss on ``examples`` and the fraction read exactly as their plain
    mission. With ``rng`` (training), some examples get their colour and type names renamed
    (:func:`rename_names`) and some descriptions get filler words
    (:func:`instructed_rl.model.pointer.add_fillers`); with ``reword`` too, some rule sentences
    are restated (:func:`reword_rules`); with ``without_lists``, some lose their list of objects
    (:func:`without_object_list`)."""
    from instructed_rl.model.pointer import add_fillers, pointer_loss, pointer_text

    descriptions = [reword_rules(e.description, e.rules, rng) if reword and rng is not None else e.description
                    for e in examples]
    if without_lists and rng is not None:
        descriptions = [without_object_list(d, e.instruction, e.plain or e.instruction, rng)
                        for d, e in zip(descriptions, examples)]
    texts = [(e.instruction, d, e.plain or e.instruction) for e, d in zip(examples, descriptions)]
    if rng is not None:
        plain_texts = [(e.instruction, e.description, e.plain or e.instruction) for e in examples]
        texts = [tuple(rename_names(t, rng)) for t in texts]
        texts = [(i, add_fillers(d, rng, keep_out={w.text.lower() for w in text_words(i + " " + p)}), p)
                 for i, d, p in texts]
        # Invented names take more tokens than the names they replace, and fillers add words: a long
        # description can grow past what the encoder reads. Such an example is read unchanged.
        texts = [changed if all(map(agent.encoder.fits, changed[:2])) else plain
                 for changed, plain in zip(texts, plain_texts)]
    instructions, descriptions, plains = (list(column) for column in zip(*texts))
    descriptions = [pointer_text(d) for d in descriptions]
    result = pointer_loss(agent.policy.pointer_reader, agent.pointer_features(descriptions), instructions, descriptions,
                          plains)
    # A changed description is drawn once: held, it would push out the unchanged ones, which come again.
    agent.encoder.forget(d for d, e in zip(descriptions, examples) if d != pointer_text(e.description))
    return result


def _warm_up_parameters(agent):
    """What the warm-up trains: a pointer reader only its own scorer (it learns from the plain
    missions, not from the target head); other readers every weight (the encoder must learn to
    mark which role a word is bound to)."""
    if agent.policy.config.reader == "pointer":
        return list(agent.policy.pointer_reader.parameters())
    return list(agent.parameters())


def warm_up_reader(agent, *, games: list[str], corpus: str, steps: int, seed: int, max_grad_norm: float,
                   log=print, worlds_per_game: int = WARMUP_WORLDS_PER_GAME, lr: float = WARMUP_LR,
                   reword: bool = False, without_lists: bool = False) -> dict[str, float]:
    """``steps`` text-only updates (own Adam; which weights: :func:`_warm_up_parameters`) of the reading loss on the games' train
    split; returns the last batch's loss and the accuracy on 200 fresh train-split worlds per game."""
    examples = reading_examples(games, corpus=corpus, split="train", worlds_per_game=worlds_per_game,
                                seed=WARMUP_SEED_OFFSET + seed * WARMUP_WORLDS_PER_GAME * 10)
    rng = np.random.default_rng([seed, 77])
    pointing = agent.policy.config.reader == "pointer"
    parameters = [p for p in _warm_up_parameters(agent) if p.requires_grad]
    optimizer = make_adam(parameters, lr=lr)
    # Down to a tenth by the end: at a constant rate the last steps undo good copies as often as they make them.
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - 0.9 * step / max(1, steps))
    agent.train()
    loss = torch.zeros(())
    # A frozen pretrained encoder keeps every warm-up text (and the accuracy check's batch), so
    # each runs through the backbone once instead of once per draw: 15,000 descriptions
    # overflow its usual cache, and the warm-up then spent most of its time in MiniLM.
    with agent.encoder.holding(2 * (len(examples) + ACCURACY_BATCH)):
        for step in range(steps):
            chunk = [examples[i] for i in rng.choice(len(examples), size=WARMUP_BATCH, replace=False)]
            if pointing:
                loss, _ = pointer_reading_loss(agent, chunk, rng, reword=reword, without_lists=without_lists)
            else:
                goal = agent.encode_goal([e.instruction for e in chunk], [e.description for e in chunk])
                loss, _ = reading_loss(agent, goal, [e.target for e in chunk])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
            optimizer.step()
            schedule.step()
            if (step + 1) % TRIM_EVERY == 0:
                release_freed_memory()
            if (step + 1) % WARMUP_LOG_EVERY == 0:  # minutes of text-only work: say it is moving
                log(f"reader warm-up: step {step + 1}/{steps}, loss {loss.item():.3f}")
        agent.eval()
        fresh = reading_examples(games, corpus=corpus, split="train", worlds_per_game=200,
                                 seed=WARMUP_SEED_OFFSET - 1000 * (seed + 1))
        if pointing:
            with torch.no_grad():
                accuracy = sum(pointer_reading_loss(agent, fresh[i:i + ACCURACY_BATCH])[1] * len(fresh[i:i + ACCURACY_BATCH])
                               for i in range(0, len(fresh), ACCURACY_BATCH)) / max(1, len(fresh))
        else:
            accuracy = reading_accuracy(agent, fresh)
    result = {"reading/warmup_loss": float(loss.item()), "reading/warmup_accuracy": accuracy}
    log(f"reader warm-up: {steps} steps, loss {result['reading/warmup_loss']:.3f}, "
        f"fresh train-split worlds {'read exactly as their plain mission' if pointing else 'named right'} "
        f"{100 * result['reading/warmup_accuracy']:.1f}%")
    return result

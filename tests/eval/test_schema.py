"""Entry validation: a good entry passes; malformed or mismatched entries fail with clear messages."""

from __future__ import annotations

import copy
import json

import pytest

from empg_gym.eval.schema import EntryError, load_entry, load_schema, validate_entry

from .helpers import guess_entry, reported_entry


def good():
    return guess_entry("random", [True, False] * 8, tokens=list(range(16)))


def problems(entry, **kw):
    with pytest.raises(EntryError) as e:
        validate_entry(entry, **kw)
    return "\n".join(e.value.problems)


def test_schema_file_is_valid_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_good_entries_pass():
    validate_entry(good(), documented=True)
    validate_entry(reported_entry())


def test_tampered_metric_rejected():
    e = good()
    e["metrics"]["success"]["mean"] = 0.9
    assert "metrics/success/mean: stored 0.9 but the per-episode records give 0.5" in problems(e)


def test_missing_field_and_wrong_type_rejected():
    pytest.importorskip("jsonschema")
    e = good()
    del e["seeds"]
    e["episodes"] = "16"
    msg = problems(e)
    assert "'seeds' is a required property" in msg and "episodes: '16' is not of type 'integer'" in msg


def test_missing_episodes_and_duplicates_rejected():
    e = good()
    e["per_episode"] = e["per_episode"][:-1] + [copy.deepcopy(e["per_episode"][0])]
    msg = problems(e)
    assert "task 0 seed 0 already recorded" in msg and "1 (task, seed) episodes missing" in msg


def test_task_list_hash_mismatch_rejected():
    e = good()
    e["per_episode"][3]["task_id"] = "guess16-99"
    assert "task_list/hash: stored" in problems(e)


def test_undocumented_task_list_rejected():
    e = good()
    e["split"] = "valid"
    msg = problems(e, documented=True)
    assert "no documented task list for split 'valid'" in msg


def test_version_and_path_checked(tmp_path):
    e = good()
    e["env"]["version"] = 3
    assert "env/version: 3 but the ID empg/GuessNumber-v0 says 0" in problems(e)
    p = tmp_path / "results" / "empg" / "KeyDoor-v0" / "x.json"
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps(good()))
    with pytest.raises(EntryError, match="belongs in results/empg/GuessNumber-v0/"):
        load_entry(p, in_tree=True)
    load_entry(p)  # outside a leaderboard (e.g. under runs/), where the file lives does not matter
    p.write_text("{not json")
    with pytest.raises(EntryError, match="not valid JSON"):
        load_entry(p)


def test_reported_rows_rules():
    e = reported_entry(success=73.7)
    assert "write 73.7% as 0.737" in problems(e)
    pytest.importorskip("jsonschema")
    e = reported_entry()
    e["per_episode"] = []
    assert "should not be valid" in problems(e)
    e = reported_entry()
    del e["reported"]
    assert "'reported' is a required property" in problems(e)


def test_schema_1_entry_gets_one_clear_problem():
    e = good()
    e["schema_version"] = 1
    del e["data"]
    msg = problems(e)
    assert msg.startswith("schema_version: 1 is outdated") and "empg-leaderboard migrate" in msg
    assert "\n" not in msg  # one problem, not a cascade of missing fields
    r = reported_entry()
    r["schema_version"] = 1
    assert 'set "schema_version": 2' in problems(r)
    e["schema_version"] = 7
    assert "7 is not a known version" in problems(e)


def test_data_provenance_checked_and_hashed():
    e = good()
    e["data"]["kind"] = "synthetic"
    assert "data/kind" in problems(e)
    e = good()
    e["data"] = {**e["data"], "source": "someone else's numbers"}  # same shape, other data: hash breaks
    assert "task_list/hash: stored" in problems(e)
    e = good()
    e["data"]["files"] = {"x.json": "md5:abc"}
    assert "sha256" in problems(e)


def test_warnings_recomputed():
    e = guess_entry("mute", [False] * 16, invalid=[3] * 16)  # 3 steps, all 3 invalid, in every episode
    assert e["warnings"] == ["all_actions_invalid"] and e["metrics"]["invalid_action_rate"]["mean"] == 1.0
    validate_entry(e)
    e["warnings"] = []
    assert "warnings: stored [] but the per-episode records give ['all_actions_invalid']" in problems(e)

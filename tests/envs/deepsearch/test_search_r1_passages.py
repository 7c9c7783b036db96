"""DeepSearch's results block equals Search-R1's own (``_passages2string``) on real passages, Unicode included.

The fixture (``tests/fixtures/deepsearch/search_r1_passages.json``, see its README) holds passage lists drawn from
the HotpotQA corpus in ../shared/data/searchqa (every other case only passages with non-ASCII text) and the
observation Search-R1 appends to its context for them. The env's observation for the same hits is that block
without Search-R1's surrounding blank lines (our prompt template lays out the steps itself).
"""

from __future__ import annotations

import json
from pathlib import Path

from empg_gym.envs.deepsearch.protocol import format_information

FIXTURE = Path(__file__).parents[2] / "fixtures" / "deepsearch" / "search_r1_passages.json"


def test_results_block_equals_search_r1_on_150_passage_lists():
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    cases = data["cases"]
    assert len(cases) == 150 and data["n_non_ascii_cases"] >= 75
    for c in cases:
        ref = c["search_r1_observation"]
        assert ref.startswith("\n\n<information>") and ref.endswith("</information>\n\n")
        assert format_information(c["contents"]) == ref[2:-2]

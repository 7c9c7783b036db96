"""rollout.collect on the toy envs with the random and expert agents (and a scripted fake)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

import empg_gym  # noqa: F401
from empg_gym.agent import ActionSample
from empg_gym.policy import load_agent
from empg_gym.policy.simple import ExpertAgent, RandomAgent
from empg_gym.rollout import collect, normalize_tasks
from empg_gym.types import History, StepBatch


class RecordingAgent:
    """Always says the same thing; records the batch size of every act call."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.calls: list[int] = []
        self.seen: list[History] = []

    def act(self, histories: Sequence[History]) -> list[ActionSample]:
        self.calls.append(len(histories))
        self.seen.extend(histories)
        return [ActionSample(text=self.action, action=self.action) for _ in histories]


def test_normalize_tasks():
    assert normalize_tasks(3) == [{"task_index": 0}, {"task_index": 1}, {"task_index": 2}]
    assert normalize_tasks([{"task_id": "x"}]) == [{"task_id": "x"}]
    with pytest.raises(TypeError):
        normalize_tasks(["x"])
    with pytest.raises(ValueError):
        normalize_tasks(-1)


def test_expert_wins_every_guess_number_task_with_binary_search():
    trajs = collect(ExpertAgent(), "empg/GuessNumber-v0", tasks=16, progress=False)
    assert len(trajs) == 16
    for i, t in enumerate(trajs):
        assert t.task_id == f"guess16-{i + 1}" and t.group_id == i and t.seed == i
        assert t.won and t.score == 1.0 and t.total_reward == 1.0
        assert len(t) <= math.ceil(math.log2(17))
        assert t.turns[-1].terminated and not t.turns[-1].truncated
        assert not any(x.terminated or x.truncated for x in t.turns[:-1])
        assert all(x.action_valid and x.format_valid for x in t.turns)
    # task 8 (number 8) is binary search's first guess
    assert len(trajs[7]) == 1 and trajs[7].turns[0].action == "guess 8"


def test_groups_share_tasks_and_seeds_follow_episode_order():
    trajs = collect(RandomAgent(), "empg/KeyDoor-v0", tasks=[{"task_index": 5}, {"task_index": 2}],
                    group_size=3, seed=100, progress=False)
    assert [t.group_id for t in trajs] == [0, 0, 0, 1, 1, 1]
    assert [t.task_id for t in trajs] == ["keydoor3-5"] * 3 + ["keydoor3-2"] * 3
    assert [t.seed for t in trajs] == [100, 100, 100, 101, 101, 101]
    assert [t.task_position for t in trajs] == [0, 0, 0, 1, 1, 1]
    # the same task, different sampling: the random copies do not all play alike
    assert len({tuple(x.action for x in t.turns) for t in trajs[:3]}) > 1


def test_copies_of_a_seed_drawn_task_play_the_same_task():
    """Group identity: with options ``{}`` the task comes from the reset seed, and all G copies must share it."""
    trajs = collect(RandomAgent(), "empg/GuessNumber-v0", tasks=[{}, {}, {}], group_size=4, seed=7,
                    progress=False, max_steps=2)
    assert [t.task_position for t in trajs] == [0] * 4 + [1] * 4 + [2] * 4
    for p in range(3):
        group = trajs[4 * p:4 * p + 4]
        assert len({t.task_id for t in group}) == 1, [t.task_id for t in group]
        assert {t.group_id for t in group} == {p}
    # the seed does draw different tasks for different positions (else the check above proves nothing)
    assert len({t.task_id for t in trajs}) > 1
    # and each position plays what a lone episode reset with seed + position plays
    lone = collect(RandomAgent(), "empg/GuessNumber-v0", tasks=[{}], seed=8, progress=False, max_steps=1)
    assert lone[0].task_id == trajs[4].task_id


def test_lockstep_one_act_call_per_turn_and_truncation():
    agent = RecordingAgent("guess 1")  # task_index i hides i + 1: task 0 ends at once, others never
    trajs = collect(agent, "empg/GuessNumber-v0", tasks=3, group_size=2, progress=False, max_steps=4)
    assert agent.calls == [6, 4, 4, 4]  # all 6 live, then the 4 that never win, until the time limit
    assert [len(t) for t in trajs] == [1, 1, 4, 4, 4, 4]
    for t in trajs[2:]:
        assert not t.won and t.turns[-1].truncated and not t.turns[-1].terminated
        assert not any(x.truncated for x in t.turns[:-1])
    assert trajs[0].turns[0].terminated and not trajs[0].turns[0].truncated
    b = StepBatch.from_trajectories(trajs)
    assert b.truncated.sum() == 4 and b.terminated.sum() == 2


def test_batch_size_bounds_live_episodes_and_keeps_order():
    agent = RecordingAgent("guess 1")
    trajs = collect(agent, "empg/GuessNumber-v0", tasks=4, group_size=2, progress=False, max_steps=3,
                    batch_size=3)
    assert max(agent.calls) == 3
    assert [t.group_id for t in trajs] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [t.seed for t in trajs] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert sum(agent.calls) == sum(len(t) for t in trajs)


def test_history_carries_turns_observation_and_admissible_actions():
    agent = RecordingAgent("look around")  # invalid in KeyDoor: the state never changes
    (t,) = collect(agent, "empg/KeyDoor-v0", tasks=1, progress=False, max_steps=3)
    h0, h1, h2 = agent.seen
    assert h0.env_id == "empg/KeyDoor-v0" and h0.turns == () and h0.task == t.task
    moves = {"go north", "go south", "go east", "go west", "take key", "open door"}
    assert set(h0.admissible_actions) <= moves
    assert h0.admissible_actions == h1.admissible_actions
    assert len(h1.turns) == 1 and len(h2.turns) == 2
    assert h1.turns[0] == t.turns[0]
    assert t.turns[0].observation == h0.observation
    assert not t.turns[0].action_valid and t.turns[0].reward == 0.0
    assert h1.observation == t.turns[0].info["message"]


def test_random_rollout_is_reproducible():
    a = collect(load_agent("random"), "empg/KeyDoor-v0", tasks=3, group_size=2, seed=7, progress=False)
    b = collect(load_agent("random", seed=99), "empg/KeyDoor-v0", tasks=3, group_size=2, seed=7,
                progress=False)
    assert [[x.action for x in t.turns] for t in a] == [[x.action for x in t.turns] for t in b]
    c = collect(load_agent("random"), "empg/KeyDoor-v0", tasks=3, group_size=2, seed=8, progress=False)
    assert [[x.action for x in t.turns] for t in a] != [[x.action for x in t.turns] for t in c]


def test_on_trajectory_sees_each_finished_episode_and_interrupt_keeps_them():
    seen = []
    trajs = collect(ExpertAgent(), "empg/KeyDoor-v0", tasks=4, progress=False, on_trajectory=seen.append)
    assert sorted(seen, key=lambda t: t.group_id) == trajs

    class Interrupting(RecordingAgent):
        def act(self, histories):
            if len(self.calls) == 2:
                raise KeyboardInterrupt
            return super().act(histories)

    written = []
    with pytest.raises(KeyboardInterrupt):
        collect(Interrupting("guess 1"), "empg/GuessNumber-v0", tasks=3, progress=False,
                on_trajectory=written.append)
    assert [t.task_id for t in written] == ["guess16-1"]  # finished before the interrupt, kept


def test_expert_on_keydoor_and_progress_bar_runs():
    trajs = collect(load_agent("expert"), "empg/KeyDoor-v0", tasks=5, progress=True)
    assert all(t.won and 3 <= len(t) <= 10 for t in trajs)


def test_bad_arguments():
    with pytest.raises(ValueError):
        collect(RandomAgent(), "empg/KeyDoor-v0", tasks=1, group_size=0, progress=False)
    with pytest.raises(ValueError):
        collect(RandomAgent(), "empg/KeyDoor-v0", tasks=1, batch_size=0, progress=False)
    assert collect(RandomAgent(), "empg/KeyDoor-v0", tasks=0, progress=False) == []

    class Short(RecordingAgent):
        def act(self, histories):
            return super().act(histories)[:-1]

    with pytest.raises(RuntimeError, match="returned 1 samples for 2"):
        collect(Short("x"), "empg/KeyDoor-v0", tasks=2, progress=False)


def test_env_kwargs_reach_the_env_and_agents_satisfy_the_protocol():
    from empg_gym.agent import Agent

    trajs = collect(ExpertAgent(), "empg/GuessNumber-v0", tasks=4, env_kwargs={"n": 4}, progress=False)
    assert [t.task_id for t in trajs] == ["guess4-1", "guess4-2", "guess4-3", "guess4-4"]
    assert all(t.won and len(t) <= 3 for t in trajs)
    assert isinstance(RandomAgent(), Agent) and isinstance(ExpertAgent(), Agent)


def test_the_projection_error_reaches_the_turn():
    from empg_gym.prompting import get_template

    class Parsing:
        def act(self, histories):
            t = get_template("react")
            out = []
            for h in histories:
                p = t.parse("no tags at all", h)
                out.append(ActionSample(text="no tags at all", action=p.action, format_valid=p.format_valid,
                                        format_error=p.error))
            return out

    (traj,) = collect(Parsing(), "empg/KeyDoor-v0", tasks=1, progress=False, max_steps=1)
    turn = traj.turns[0]
    assert not turn.format_valid and turn.format_error
    assert turn.format_error == get_template("react").parse("no tags at all").error

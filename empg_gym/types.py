"""Records that flow between the rollout, the estimators, the trainer and the evaluator.

- :class:`History` is what an agent sees when it acts: the task, the completed turns, the current
  observation and the admissible actions. The rollout owns it; agents are stateless.
- :class:`Turn` is one agent turn: what it saw, the prompt it was given, what it generated (token ids,
  log-probs, entropies), the action that was parsed from it, and what the env answered.
- :class:`Trajectory` is one episode of turns; trajectories of the same task played G times share a
  ``group_id`` (group-based estimators: GRPO, RLOO, GiGPO, EMPG).
- :class:`StepBatch` flattens trajectories to per-step arrays: the one per-step table of a training batch.
  The advantage estimators read its numeric columns; the trainer's scoring pass reads its token columns, so
  every per-step tensor the trainer makes is aligned with its rows by construction. ``terminated`` and
  ``truncated`` stay apart all the way here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Turn:
    """One agent turn.

    Attributes:
        observation: The observation the agent acted on.
        admissible_actions: Valid actions at that observation, or None when the set is open.
        prompt: The prompt text given to the model (chat template applied), if any.
        response: The raw generated text.
        prompt_token_ids: Token ids of ``prompt``.
        token_ids: Token ids of ``response``.
        logprobs: Per-token log-probs of ``token_ids`` under the sampling policy, if recorded.
        entropies: Per-token full-vocabulary entropies of the sampling distribution, if recorded.
        action: The env action parsed from ``response``.
        format_valid: Whether ``response`` followed the prompt's format (e.g. one ``<action>`` tag).
        format_error: Why the format is invalid (the projection's ``error``; "" when valid).
        action_valid: The env's verdict (``info["action_valid"]``).
        reward: The env's reward for this step.
        terminated: The episode ended in the MDP at this step.
        truncated: The episode was cut off (time limit) at this step.
        info: The env's info after the step.
    """

    observation: str
    admissible_actions: tuple[str, ...] | None = None
    prompt: str = ""
    response: str = ""
    prompt_token_ids: tuple[int, ...] = ()
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] = ()
    entropies: tuple[float, ...] = ()
    action: str = ""
    format_valid: bool = True
    action_valid: bool = True
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    info: Mapping[str, Any] = field(default_factory=dict)
    format_error: str = ""

    @property
    def mean_entropy(self) -> float | None:
        """Mean token entropy of the response (EMPG's step entropy), or None if not recorded."""
        return mean_entropy(self.entropies)


def mean_entropy(entropies: Sequence[float]) -> float | None:
    """Mean of per-token entropies (EMPG's step entropy), or None when none were recorded."""
    return float(np.mean(entropies)) if len(entropies) else None


@dataclass(frozen=True, slots=True)
class History:
    """What an agent sees when it acts.

    Attributes:
        env_id: Gymnasium ID of the env (picks the prompt template).
        task: The task instruction.
        turns: Completed turns so far, oldest first.
        observation: The current observation.
        admissible_actions: Valid actions now, or None.
        info: The env's latest info.
    """

    env_id: str
    task: str
    turns: tuple[Turn, ...]
    observation: str
    admissible_actions: tuple[str, ...] | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Trajectory:
    """One episode.

    Attributes:
        env_id: Gymnasium ID.
        task_id: The env's task id.
        task: The task instruction.
        turns: The turns, in order.
        group_id: Trajectories of the same task in one rollout batch share it.
        seed: The reset seed.
        won: The env's ``won`` at the end.
        score: The env's ``score`` at the end.
        task_position: Position of the task in the ``tasks`` list the episode was played from
            (:func:`empg_gym.rollout.collect`); unlike ``group_id`` it is never renumbered.
    """

    env_id: str
    task_id: str
    task: str
    turns: tuple[Turn, ...]
    group_id: int = 0
    seed: int | None = None
    won: bool = False
    score: float = 0.0
    task_position: int = 0

    @property
    def total_reward(self) -> float:
        """Sum of the env's rewards."""
        return float(sum(t.reward for t in self.turns))

    def __len__(self) -> int:
        return len(self.turns)


@dataclass(frozen=True)
class StepBatch:
    """Flat per-step arrays over a batch of trajectories (N steps in all).

    Attributes:
        traj_id: ``[N]`` int, trajectory index.
        step: ``[N]`` int, step index within the trajectory (0-based, contiguous).
        group_id: ``[N]`` int, group of trajectories of the same task.
        reward: ``[N]`` float, reward of each step (possibly shaped by the trainer).
        terminated: ``[N]`` bool.
        truncated: ``[N]`` bool.
        entropy: ``[N]`` float, mean token entropy of each step (EMPG), or None.
        value: ``[N]`` float, critic value of each step's state (PPO/GAE), or None.
        anchor: ``[N]`` object, a hashable key of each step's state (GiGPO), or None.
        penalty: ``[N]`` float, a penalty charged to each step (the trainer's invalid-action and overlong
            penalties), or None. Kept apart from ``reward`` because protocols place it differently: under
            ``verl-agent`` it lowers only the step's own row score, under ``trajectory`` it is part of the
            step reward and so of every return containing the step.
        n_tokens: ``[N]`` int, scored response tokens of each step, or None (= 1 each, all scored). Weights of
            per-token whitening (``verl-agent``); a step with 0 has no entropy (EMPG leaves it out).
        prompt_ids: ``[N]`` object, each step's prompt token ids (a tuple of ints), or None.
        response_ids: ``[N]`` object, each step's response token ids (a tuple of ints), or None.
        choices: ``[N]`` object, each step's admissible candidates and chosen index
            (:class:`empg_gym.trainers.choice.Choice`, None for a step not chosen from a list), or None: the
            trainer's exact ``choose`` gradient (``choice_gradient: choice``).
    """

    traj_id: np.ndarray
    step: np.ndarray
    group_id: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    entropy: np.ndarray | None = None
    value: np.ndarray | None = None
    anchor: np.ndarray | None = None
    penalty: np.ndarray | None = None
    n_tokens: np.ndarray | None = None
    prompt_ids: np.ndarray | None = None
    response_ids: np.ndarray | None = None
    choices: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.traj_id)
        for name in ("step", "group_id", "reward", "terminated", "truncated", "entropy", "value", "anchor",
                     "penalty", "n_tokens", "prompt_ids", "response_ids", "choices"):
            arr = getattr(self, name)
            if arr is not None and (np.ndim(arr) != 1 or len(arr) != n):
                raise ValueError(f"StepBatch.{name} must have shape [{n}], got {np.shape(arr)}")

    def __len__(self) -> int:
        return len(self.traj_id)

    @classmethod
    def from_trajectories(
        cls,
        trajs: Sequence[Trajectory],
        *,
        rewards: Sequence[Sequence[float]] | None = None,
        with_entropy: bool = False,
        anchors: Sequence[Sequence[Any]] | None = None,
        values: Sequence[Sequence[float]] | None = None,
        penalties: Sequence[Sequence[float]] | None = None,
        n_tokens: Sequence[Sequence[int]] | None = None,
    ) -> StepBatch:
        """Flatten trajectories.

        Args:
            trajs: The trajectories.
            rewards: Per-step rewards to use instead of the env's (e.g. shaped by the trainer).
            with_entropy: Fill ``entropy`` from each turn's mean token entropy (all turns must have them).
            anchors: Per-step anchor keys (GiGPO); default: the observation text.
            values: Per-step critic values.
            penalties: Per-step penalties (see the ``penalty`` attribute).
            n_tokens: Per-step scored response token counts.
        """
        lens = [len(t) for t in trajs]
        if any(n == 0 for n in lens):
            raise ValueError("StepBatch.from_trajectories: a trajectory has no turns")
        traj_id = np.repeat(np.arange(len(trajs)), lens)
        step = np.concatenate([np.arange(n) for n in lens]) if trajs else np.zeros(0, int)
        group_id = np.repeat([t.group_id for t in trajs], lens).astype(np.int64)
        r = rewards if rewards is not None else [[turn.reward for turn in t.turns] for t in trajs]
        reward = np.asarray([x for row in r for x in row], dtype=np.float64)
        terminated = np.asarray([turn.terminated for t in trajs for turn in t.turns], dtype=bool)
        truncated = np.asarray([turn.truncated for t in trajs for turn in t.turns], dtype=bool)
        entropy = None
        if with_entropy:
            ents = [turn.mean_entropy for t in trajs for turn in t.turns]
            if any(e is None for e in ents):
                raise ValueError("with_entropy=True but some turns have no token entropies recorded")
            entropy = np.asarray(ents, dtype=np.float64)
        a = anchors if anchors is not None else [[turn.observation for turn in t.turns] for t in trajs]
        anchor = _objects([x for row in a for x in row])
        value = None if values is None else np.asarray([x for row in values for x in row], dtype=np.float64)
        penalty = None if penalties is None else np.asarray([x for row in penalties for x in row], np.float64)
        ntok = None if n_tokens is None else np.asarray([x for row in n_tokens for x in row], dtype=np.int64)
        prompt_ids = _objects([turn.prompt_token_ids for t in trajs for turn in t.turns])
        response_ids = _objects([turn.token_ids for t in trajs for turn in t.turns])
        if len(reward) != len(traj_id):
            raise ValueError(f"StepBatch.from_trajectories: {len(reward)} rewards for {len(traj_id)} steps")
        return cls(traj_id, step, group_id, reward, terminated, truncated, entropy, value, anchor, penalty, ntok,
                   prompt_ids, response_ids)


def _objects(items: Sequence[Any]) -> np.ndarray:
    """A 1-D object array holding ``items`` as they are (numpy would otherwise stack equal-length tuples)."""
    out = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        out[i] = x
    return out

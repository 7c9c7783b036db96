"""Batched multi-turn rollouts: many envs stepped in lockstep, one ``agent.act`` call per turn.

:func:`collect` plays ``len(tasks) x group_size`` episodes. At most ``batch_size`` episodes are live at
once (one env instance per slot, reused); every turn the histories of all live episodes go to the agent in
**one** ``act`` call (one batched generate for an LLM), every live env is stepped with its action, episodes
that end drop out and the next pending episode takes their slot. The rollout owns the :class:`History`;
agents are stateless.

Bookkeeping, fixed so that results are reproducible and comparable:

- Episode ``k = task_position * group_size + copy`` is reset with ``seed + task_position`` and
  ``options = tasks[task_position]``: every copy of a task gets the same reset seed, so the copies play the
  same task even when the options leave the task to the seed (``{}``) and the env's own randomness is the
  same for all of them. Only the agent's sampling differs between copies: what group estimators such as
  GRPO and EMPG compare.
- The ``group_size`` copies of a task share ``group_id`` = ``task_position`` = the task's position in
  ``tasks`` (callers that renumber groups, such as the trainer's dynamic sampling, keep ``task_position``).
- If the agent has a ``set_seed(seed)`` method (the sampling backends and :class:`RandomAgent` do), it is
  called once with ``seed`` before the first turn, so the same agent, env, tasks and seed give the same
  trajectories.
- ``terminated`` (the MDP ended) and ``truncated`` (the episode hit ``max_steps`` / the env's
  ``max_episode_steps``) are recorded apart on every turn.
- Trajectories come back in (task, copy) order. ``on_trajectory`` is called as each one finishes (in finishing
  order), so a caller writing them out loses nothing already finished when the run is interrupted (Ctrl-C):
  the envs are closed and the ``KeyboardInterrupt`` propagates.
- An agent whose ``needs_expert`` is true (the ``expert`` baseline) gets envs wrapped in
  :class:`~empg_gym.wrappers.ExpertInfo`, which puts the expert's action in ``info["expert_action"]``.
- The envs live in an env pool (:mod:`empg_gym.env_workers`): in this process by default, or in Ray actors
  with ``env_workers=N`` (each turn's env steps then run in parallel, outside the generating process). The
  trajectories are the same either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from empg_gym.agent import ActionSample, Agent
from empg_gym.env_workers import EnvPool, LocalEnvs, RayEnvs, make_pool
from empg_gym.types import History, Trajectory, Turn

__all__ = ["collect", "normalize_tasks"]

logger = logging.getLogger(__name__)


def normalize_tasks(tasks: Sequence[Mapping[str, Any]] | int) -> list[dict[str, Any]]:
    """Turn the ``tasks`` argument of :func:`collect` into a list of reset options.

    Args:
        tasks: A list of reset options (``{"task_index": i}`` / ``{"task_id": ...}`` / ``{}`` for a task drawn
            from the reset seed), or an int ``n`` meaning ``task_index`` 0..n-1.

    Returns:
        A list of option dicts (copies).

    >>> normalize_tasks(2)
    [{'task_index': 0}, {'task_index': 1}]
    """
    if isinstance(tasks, bool):
        raise TypeError("tasks must be an int or a sequence of reset-option mappings, got a bool")
    if isinstance(tasks, int):
        if tasks < 0:
            raise ValueError(f"tasks must be >= 0, got {tasks}")
        return [{"task_index": i} for i in range(tasks)]
    out = []
    for i, t in enumerate(tasks):
        if not isinstance(t, Mapping):
            raise TypeError(f"tasks[{i}] must be a mapping of reset options, got {type(t).__name__}")
        out.append(dict(t))
    return out


@dataclass
class _Live:
    """One live episode in a slot."""

    k: int  # episode index
    position: int  # task position in `tasks`
    seed: int
    slot: int
    observation: str
    info: dict[str, Any]
    task: str
    task_id: str
    turns: list[Turn] = field(default_factory=list)

    def history(self, env_id: str) -> History:
        adm = self.info.get("admissible_actions")
        return History(
            env_id=env_id,
            task=self.task,
            turns=tuple(self.turns),
            observation=self.observation,
            admissible_actions=None if adm is None else tuple(adm),
            info=self.info,
        )


def collect(
    agent: Agent,
    env_id: str,
    *,
    tasks: Sequence[Mapping[str, Any]] | int,
    group_size: int = 1,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    on_trajectory: Callable[[Trajectory], None] | None = None,
    env_workers: int | EnvPool | None = None,
) -> list[Trajectory]:
    """Play ``len(tasks) x group_size`` episodes in lockstep with one ``agent.act`` call per turn.

    Args:
        agent: Any :class:`~empg_gym.agent.Agent` (see :func:`empg_gym.policy.load_agent`).
        env_id: Gymnasium id, e.g. ``"empg/KeyDoor-v0"``.
        tasks: Reset options per task (``{"task_index": i}`` / ``{"task_id": ...}``), or an int ``n`` meaning
            ``task_index`` 0..n-1.
        group_size: Episodes per task (G); copies of a task share ``group_id`` = ``task_position`` = the
            task's position in ``tasks``.
        seed: Every copy of the task at position ``p`` is reset with ``seed + p``; the agent's ``set_seed``
            (if any) gets ``seed``.
        env_kwargs: Constructor kwargs for ``gym.make`` (e.g. ``{"split": "test"}``).
        max_steps: Episode step limit (overrides the registered ``max_episode_steps``); episodes cut off
            by it end with ``truncated=True``.
        batch_size: Most episodes live at once (bounds memory and the generate batch); default all.
        progress: Show a progress bar (rich, on stderr).
        on_trajectory: Called with each trajectory as soon as it finishes.
        env_workers: Step the envs in this many Ray actors (:class:`~empg_gym.env_workers.RayEnvs`; extra
            ``ray``), or in an env pool made once and reused across calls (``RayEnvs`` or ``LocalEnvs``, with
            at least ``batch_size`` slots of this env; the caller closes it). Default: new envs in this
            process.

    Returns:
        The trajectories in (task, copy) order.
    """
    options = normalize_tasks(tasks)
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    total = len(options) * group_size
    if total == 0:
        return []
    slots = total if batch_size is None else int(batch_size)
    if slots < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    slots = min(slots, total)
    if not callable(getattr(agent, "act", None)):
        raise TypeError(f"agent must have an act(histories) method, got {type(agent).__name__}")
    expert = bool(getattr(agent, "needs_expert", False))
    if hasattr(agent, "set_seed"):
        agent.set_seed(seed)

    pool: EnvPool
    if isinstance(env_workers, (LocalEnvs, RayEnvs)):
        pool = env_workers
        if pool.env_id != env_id or pool.n < slots:
            raise ValueError(f"env_workers pool holds {pool.n} slots of {pool.env_id}; this rollout needs "
                             f"{slots} of {env_id}")
    else:
        pool = make_pool(env_id, env_kwargs or {}, max_steps, expert, slots, env_workers)
    free = list(range(slots))[::-1]  # slot indices, pop() from the end
    slot_of: dict[int, int] = {}
    results: list[Trajectory | None] = [None] * total
    pending = iter(range(total))
    live: list[_Live] = []

    def start_free() -> None:
        """Start pending episodes in every free slot (one batched reset)."""
        starts = []
        while free:
            k = next(pending, None)
            if k is None:
                break
            starts.append((k, free.pop()))
        # Every copy of a task resets with the same seed (see the module docstring).
        jobs = [(slot, seed + k // group_size, options[k // group_size]) for k, slot in starts]
        for (k, slot), (obs, info) in zip(starts, pool.reset(jobs), strict=True):
            pos = k // group_size
            ep = _Live(k=k, position=pos, seed=seed + pos, slot=slot, observation=obs,
                       info=dict(info), task=str(info.get("task", "")), task_id=str(info.get("task_id", "")))
            slot_of[k] = slot
            live.append(ep)

    bar = _Progress(total, f"{env_id} x {getattr(agent, 'name', type(agent).__name__)}", enabled=progress)
    try:
        start_free()
        while live:
            histories = [ep.history(env_id) for ep in live]
            samples = agent.act(histories)
            if len(samples) != len(live):
                raise RuntimeError(f"{type(agent).__name__}.act returned {len(samples)} samples for "
                                   f"{len(live)} histories")
            still: list[_Live] = []
            actions = [_action(sample) for sample in samples]
            stepped = pool.step([(ep.slot, a) for ep, a in zip(live, actions, strict=True)])
            for ep, h, sample, action, res in zip(live, histories, samples, actions, stepped, strict=True):
                turn, done = _turn(ep, h, sample, action, res)
                ep.turns.append(turn)
                if not done:
                    still.append(ep)
                    continue
                traj = Trajectory(env_id=env_id, task_id=ep.task_id, task=ep.task, turns=tuple(ep.turns),
                                  group_id=ep.position, seed=ep.seed, won=bool(ep.info.get("won", False)),
                                  score=float(ep.info.get("score", 0.0)), task_position=ep.position)
                results[ep.k] = traj
                free.append(slot_of.pop(ep.k))
                bar.advance(traj)
                if on_trajectory is not None:
                    on_trajectory(traj)
            live[:] = still
            start_free()
            bar.turn(len(live))
    finally:
        bar.close()
        if pool is not env_workers:  # a caller's pool outlives the call
            pool.close()
    return [t for t in results if t is not None]


def _action(sample: ActionSample) -> str:
    """The env action of a sample (its parsed action, or the raw text of a non-LLM agent)."""
    if not isinstance(sample, ActionSample):
        raise TypeError(f"agent.act must return ActionSample objects, got {type(sample).__name__}")
    return sample.action if sample.action or not sample.format_valid else sample.text


def _turn(ep: _Live, h: History, sample: ActionSample, action: str, res: tuple) -> tuple[Turn, bool]:
    """The turn record of ``ep``'s step result ``res`` for ``action``, and whether the episode ended."""
    obs, reward, terminated, truncated, info = res
    info = dict(info)
    turn = Turn(
        observation=h.observation,
        admissible_actions=h.admissible_actions,
        prompt=sample.prompt,
        response=sample.text,
        prompt_token_ids=tuple(sample.prompt_token_ids),
        token_ids=tuple(sample.token_ids),
        logprobs=tuple(sample.logprobs),
        entropies=tuple(sample.entropies),
        action=action,
        format_valid=bool(sample.format_valid),
        format_error=str(sample.format_error),
        action_valid=bool(info.get("action_valid", True)),
        reward=float(reward),
        terminated=bool(terminated),
        truncated=bool(truncated),
        info=info,
    )
    ep.observation, ep.info = obs, info
    return turn, bool(terminated or truncated)


class _Progress:
    """Episodes done and the running win rate, on the package's progress bar."""

    def __init__(self, total: int, label: str, *, enabled: bool) -> None:
        from empg_gym._progress import ProgressBar

        self._bar = ProgressBar(total, label, enabled=enabled)
        self.wins = 0
        self.done = 0

    def advance(self, traj: Trajectory) -> None:
        self.done += 1
        self.wins += traj.won
        self._bar.advance()

    def turn(self, n_live: int) -> None:
        rate = self.wins / self.done if self.done else 0.0
        self._bar.status(f"live {n_live} | won {rate:.0%}")

    def close(self) -> None:
        self._bar.close()

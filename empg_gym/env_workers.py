"""Where a rollout's envs live: in the rollout's process, or spread over Ray actors.

:func:`empg_gym.rollout.collect` plays ``batch_size`` env *slots* in lockstep. Every turn it resets the slots
whose episodes ended and steps every live slot once. An env pool does those two things for a list of slots
at once:

- :class:`LocalEnvs` (the default): the envs are in the rollout's process and are stepped one after the
  other, as they always were.
- :class:`RayEnvs` (``collect(..., env_workers=N)``): the slots are dealt round-robin over ``N`` Ray actors,
  each holding its own env instances; a turn sends one ``step`` call per actor carrying all of that actor's
  slots, and the actors step their envs in parallel while the rollout process (which generates) only waits
  for the results. The env work of a turn then costs about ``1/N`` of its serial time, and none of it runs in
  the generation process (no GIL contention with tokenisation, sampling and the trainer).

Episodes are exactly the same under both pools: the same env is reset with the same seed and options and
stepped with the same actions, only in another process. What this does not do is overlap one turn's env
steps with the *same* turn's generation: a lockstep rollout needs every observation of turn ``t`` before it
generates turn ``t + 1``. (Overlapping would mean generating for half the slots while the other half step,
which changes the generate batches and thus the samples; verl's agent loop does that per episode, see
:mod:`empg_gym.integrations.verl`.)

Ray does the process management, placement and transport; on a cluster (``address="auto"``) actors land on
any node, which must hold the env's data files at the same paths.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym

from empg_gym._optional import require

__all__ = ["EnvPool", "LocalEnvs", "RayEnvs", "make_env", "make_pool"]

logger = logging.getLogger(__name__)

#: ``(obs, reward, terminated, truncated, info)`` of one env step.
StepResult = tuple[Any, float, bool, bool, dict[str, Any]]


def make_env(env_id: str, env_kwargs: Mapping[str, Any], max_steps: int | None, expert: bool) -> gym.Env:
    """``gym.make`` with the rollout's step limit, a default time limit, and the expert wrapper if asked."""
    import empg_gym  # noqa: F401  (registers the envs)

    kwargs = dict(env_kwargs)
    if max_steps is not None:
        kwargs["max_episode_steps"] = int(max_steps)
    env = gym.make(env_id, **kwargs)
    if env.spec is None or env.spec.max_episode_steps is None:
        # Without a time limit a policy that never finishes would never return.
        env = gym.wrappers.TimeLimit(env, max_episode_steps=100)
        logger.warning("%s has no max_episode_steps; truncating episodes at 100 steps", env_id)
    if expert:
        from empg_gym.wrappers import ExpertInfo

        env = ExpertInfo(env)
    return env


class LocalEnvs:
    """``n`` env slots in this process, stepped one after the other."""

    def __init__(self, env_id: str, env_kwargs: Mapping[str, Any], max_steps: int | None, expert: bool,
                 n: int) -> None:
        self.env_id, self.n = env_id, n
        self.envs = [make_env(env_id, env_kwargs, max_steps, expert) for _ in range(n)]

    def reset(self, jobs: Sequence[tuple[int, int, Mapping[str, Any]]]) -> list[tuple[Any, dict[str, Any]]]:
        """Reset slots: ``jobs`` = ``[(slot, seed, options)]``; returns ``[(obs, info)]`` in job order."""
        return [self.envs[s].reset(seed=seed, options=dict(opt)) for s, seed, opt in jobs]

    def step(self, jobs: Sequence[tuple[int, str]]) -> list[StepResult]:
        """Step slots: ``jobs`` = ``[(slot, action)]``; returns the step results in job order."""
        return [self.envs[s].step(a) for s, a in jobs]  # type: ignore[misc]

    def close(self) -> None:
        """Close every env (a failing close is logged, not raised)."""
        for env in self.envs:
            try:
                env.close()
            except Exception:  # closing must not mask the real error
                logger.exception("closing %s failed", self.env_id)


class _EnvShard(LocalEnvs):
    """A Ray actor holding some slots' envs (the slot numbers are the shard's local indices)."""

    def pid(self) -> int:
        """The actor's process id."""
        import os

        return os.getpid()


class RayEnvs:
    """``n`` env slots dealt round-robin over ``workers`` Ray actors (slot ``s`` on actor ``s % workers``).

    Args:
        env_id: Gymnasium ID.
        env_kwargs: Constructor kwargs.
        max_steps: Episode step limit, or None.
        expert: Wrap envs in :class:`~empg_gym.wrappers.ExpertInfo`.
        n: Number of slots.
        workers: Number of actors (at most ``n``); each reserves ``num_cpus`` CPUs.
        address: Ray address when Ray is not initialised yet (``None``: a local instance; ``"auto"``: the
            running cluster). A Ray started here is shut down by :meth:`close`.
        num_cpus: CPUs per actor.
    """

    def __init__(self, env_id: str, env_kwargs: Mapping[str, Any], max_steps: int | None, expert: bool,
                 n: int, *, workers: int, address: str | None = None, num_cpus: float = 1) -> None:
        ray = require("ray", why="collect(env_workers=...)")
        if workers < 1:
            raise ValueError(f"env_workers must be >= 1, got {workers}")
        self.ray, self.env_id, self.n, self.started = ray, env_id, n, False
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
            self.started = True
        self.workers = min(workers, n)
        cls = ray.remote(num_cpus=num_cpus)(_EnvShard)
        sizes = [len(range(w, n, self.workers)) for w in range(self.workers)]
        self.actors = [cls.remote(env_id, dict(env_kwargs), max_steps, expert, k) for k in sizes]

    def _fan(self, method: str, jobs: Sequence[tuple[Any, ...]]) -> list[Any]:
        by_actor: dict[int, list[int]] = {}
        for i, job in enumerate(jobs):
            by_actor.setdefault(job[0] % self.workers, []).append(i)
        refs = {w: getattr(self.actors[w], method).remote([(jobs[i][0] // self.workers, *jobs[i][1:])
                                                           for i in idx])
                for w, idx in by_actor.items()}
        out: list[Any] = [None] * len(jobs)
        for w, res in zip(refs, self.ray.get(list(refs.values())), strict=True):
            for i, r in zip(by_actor[w], res, strict=True):
                out[i] = r
        return out

    def reset(self, jobs: Sequence[tuple[int, int, Mapping[str, Any]]]) -> list[tuple[Any, dict[str, Any]]]:
        """Reset slots (one call per actor, in parallel): ``[(slot, seed, options)]`` -> ``[(obs, info)]``."""
        return self._fan("reset", [(s, seed, dict(opt)) for s, seed, opt in jobs])

    def step(self, jobs: Sequence[tuple[int, str]]) -> list[StepResult]:
        """Step slots (one call per actor, in parallel): ``[(slot, action)]`` -> step results."""
        return self._fan("step", jobs)

    def close(self) -> None:
        """Close the envs, end the actors, and shut Ray down if this pool started it."""
        try:
            self.ray.get([a.close.remote() for a in self.actors])
        finally:
            for a in self.actors:
                self.ray.kill(a)
            if self.started:
                self.ray.shutdown()


EnvPool = LocalEnvs | RayEnvs


def make_pool(env_id: str, env_kwargs: Mapping[str, Any], max_steps: int | None, expert: bool, n: int,
              env_workers: int | None) -> EnvPool:
    """:class:`RayEnvs` with ``env_workers`` actors, or :class:`LocalEnvs` when ``env_workers`` is None/0."""
    if not env_workers:
        return LocalEnvs(env_id, env_kwargs, max_steps, expert, n)
    return RayEnvs(env_id, env_kwargs, max_steps, expert, n, workers=int(env_workers))

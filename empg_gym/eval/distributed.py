"""Evaluation batches played by Ray actors (``empg-eval --workers N`` / ``--ray-address``).

The harness (:mod:`empg_gym.eval.harness`) splits an evaluation into batches whose outcome depends only on the
batch (every batch re-seeds the agent and resets its episodes with fixed seeds). That makes sharding exact: a
batch played by any worker gives the records it would give in the driver. This module only moves batches to
Ray actors and results back; Ray does the scheduling, placement and transport.

- Each actor (:class:`_EvalWorker`) builds its own agent once from the agent spec (so a ``transformers``
  agent is one policy copy per worker; an ``openai``/``vllm`` spec pointing at a server makes every worker a
  client of that shared endpoint) and its own envs (one ``collect`` call per batch, as in the single-process
  run).
- The driver keeps up to ``in_flight`` batches queued per actor and yields each batch's per-episode records
  as it finishes (in finishing order); the harness, in the driver, writes them to the run file. Workers
  never touch the run file, so resume and the entry are the harness's, unchanged.
- An agent *object* (instead of a spec) is shipped to the actors with Ray's pickling; it must be picklable.
- On a cluster (``address="auto"`` or ``HOST:PORT``), model paths and data files in the spec and env kwargs
  must exist on every node, and every node needs the same empg-gym version.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from empg_gym._optional import require

__all__ = ["Batch", "play_batches", "ray_session"]

#: ``(seed index, seed, first task position, end position)``: one harness batch.
Batch = tuple[int, int, int, int]


class _EvalWorker:
    """A Ray actor holding one agent; plays harness batches and returns their per-episode records."""

    def __init__(self, agent: Any, seed_stride: int) -> None:
        from empg_gym.policy import AgentSpec, load_agent

        if isinstance(agent, (Mapping, AgentSpec)):
            agent = load_agent(agent)
        self.agent = agent
        self.seed_stride = seed_stride

    def pid(self) -> int:
        """The worker's process id (tests check that batches ran elsewhere)."""
        return os.getpid()

    def play(self, batch: Batch, n: int, env_id: str, options: Sequence[Mapping[str, Any]],
             env_kwargs: Mapping[str, Any], max_steps: int | None, batch_size: int,
             ) -> tuple[Batch, list[dict[str, Any]], float]:
        """Play one batch: ``(batch, records in episode order, wall seconds)``."""
        from empg_gym.eval.metrics import episode_record
        from empg_gym.rollout import collect

        si, s, a, b = batch
        t0 = time.perf_counter()
        trajs = collect(self.agent, env_id, tasks=list(options[a:b]), seed=self.seed_stride * s + a,
                        env_kwargs=env_kwargs, max_steps=max_steps, batch_size=batch_size, progress=False)
        dt = time.perf_counter() - t0
        recs = [episode_record(t, episode=si * n + a + t.group_id, seed=s, task_position=a + t.group_id)
                for t in trajs]
        return batch, recs, dt


class ray_session:  # noqa: N801  (used as a context manager, like open())
    """Connect to Ray (``address``) or start a local Ray instance; shut it down on exit if this started it.

    Args:
        address: ``None`` starts a local instance with at least ``num_cpus`` CPUs (unless Ray is already
            initialised in this process, which is then reused); ``"auto"`` or ``"HOST:PORT"`` joins a running
            cluster.
        num_cpus: CPUs of a local instance.
    """

    def __init__(self, address: str | None, num_cpus: int) -> None:
        self.ray = require("ray", why="empg-eval --workers / --ray-address")
        self.address, self.num_cpus, self.started = address, num_cpus, False

    def __enter__(self) -> Any:
        ray = self.ray
        if not ray.is_initialized():
            if self.address is None:
                ray.init(num_cpus=max(self.num_cpus, os.cpu_count() or 1), include_dashboard=False,
                         log_to_driver=False)
            else:
                ray.init(address=self.address, log_to_driver=False)
            self.started = True
        return ray

    def __exit__(self, *exc: object) -> None:
        if self.started:
            self.ray.shutdown()


def play_batches(
    agent: Any,
    env_id: str,
    batches: Sequence[Batch],
    *,
    n: int,
    options: Sequence[Mapping[str, Any]],
    env_kwargs: Mapping[str, Any],
    max_steps: int | None,
    batch_size: int,
    seed_stride: int,
    workers: int,
    address: str | None = None,
    in_flight: int = 2,
) -> Iterator[tuple[Batch, list[dict[str, Any]], float]]:
    """Play ``batches`` on ``workers`` Ray actors; yield ``(batch, records, wall seconds)`` as each finishes.

    Args:
        agent: An agent spec (mapping / :class:`~empg_gym.policy.AgentSpec`; each actor builds its own agent)
            or a picklable agent object.
        env_id: Gymnasium ID.
        batches: The harness batches still to play.
        n: Tasks per seed (episode index = seed index x n + task position).
        options: Reset options of every task position.
        env_kwargs: Env constructor kwargs.
        max_steps: Episode step limit, or None.
        batch_size: Episodes live at once in a batch.
        seed_stride: Reset-seed stride between evaluation seeds.
        workers: Number of Ray actors (each reserves one CPU).
        address: Ray address (see :class:`ray_session`).
        in_flight: Batches queued per actor, so an actor never idles while the driver writes.

    Raises:
        DependencyNotInstalled: Ray is not installed (names ``pip install "empg-gym[ray]"``).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not batches:
        return
    with ray_session(address, workers) as ray:
        actor_cls = ray.remote(num_cpus=1)(_EvalWorker)
        n_actors = min(workers, len(batches))
        actors = [actor_cls.remote(agent, seed_stride) for _ in range(n_actors)]
        options_ref = ray.put(list(options))
        queue = list(batches)[::-1]
        running: dict[Any, Any] = {}  # object ref -> actor

        def submit(actor: Any) -> None:
            if queue:
                ref = actor.play.remote(queue.pop(), n, env_id, options_ref, dict(env_kwargs), max_steps,
                                        batch_size)
                running[ref] = actor

        try:
            for _ in range(max(1, in_flight)):
                for actor in actors:
                    submit(actor)
            while running:
                [ref], _ = ray.wait(list(running), num_returns=1)
                actor = running.pop(ref)
                result = ray.get(ref)
                submit(actor)
                yield result
        finally:
            for actor in actors:
                ray.kill(actor)

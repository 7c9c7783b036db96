"""EMPG in verl's v1 trainer: the advantage step also sees the actor's token entropies and the turn fields.

verl 0.9.1's v1 trainer (``verl.trainer.ppo.v1``, ``trainer.use_v1=true``, the default) keeps every training
row in TransferQueue under the key ``{uid}_{session}_{turn}``. Two things EMPG needs are stored there but
never reach an advantage estimator:

- the actor's token entropies: ``PPOTrainer._compute_old_log_prob`` (trainer_base.py) asks the actor for
  them (``calculate_entropy``) and writes them back as the row's ``entropy`` field, response tokens only;
- the agent loop's turn fields: ``AgentLoopWorkerTQ._agent_loop_postprocess`` (agent_loop_tq.py) stores
  each ``AgentLoopOutput`` with its ``extra_fields`` (our ``empg_traj``, ``empg_step``, ``empg_reward``...).

``PPOTrainer._compute_advantage`` (trainer_base.py, the method's first lines) reads a fixed list of fields
(uid, response mask, scores, rollout/old/reference log-probs, values) into the ``DataProto`` it passes to
``compute_advantage``. :class:`StepFieldsMixin` overrides that one method and nothing else: for an
empg-gym estimator it reads ``entropy`` and ``extra_fields`` of the same rows, in the same order, and runs
verl's own method unchanged inside :func:`empg_gym.integrations.verl.trainer_step_fields`, so empg-gym's
``compute_advantage`` (patched into ``verl.trainer.ppo.v1.utils`` by ``patch_trainer``) adds them to the
batch: ``batch["entropy"]`` (``[B, L]``, right-padded like ``response_mask``) and one ``empg_*`` array per
field in ``non_tensor_batch``. verl's other estimators take verl's path untouched.

Rows verl adds itself: ``_balance_batch`` pads the batch to a multiple of the data-parallel size with
synthetic rows that copy the first row's fields (``upsample_batch_to_divisible_size`` in padding_utils.py,
tagged ``is_padding``). Their copied ``empg_*`` fields would duplicate a real turn, so they are marked
``empg_padding`` and the estimators leave them out (advantage 0; their response mask is 0 anyway).

The subclasses take the place of verl's under the same ``trainer.v1.trainer_mode`` names (``sync``,
``colocate_async``, ``separate_async``) in verl's trainer registry (:func:`install_trainers`): the trainer
compares its mode with those names (replay buffer, checkpoints, prompt refill), so a new name would change
what it does. :func:`install` (estimators, agent loop, ``compute_advantage`` patch, trainers) runs in every
Ray worker process when training goes through :func:`train`,
``python -m empg_gym.integrations.verl_trainer OVERRIDE...``: verl's ``main_ppo`` with Ray's
``worker_process_setup_hook`` set to it, so the TaskRunner actor's ``get_trainer_cls`` returns ours.

Not supported, with a clear error:

- verl's legacy trainer (``trainer.use_v1=false``): its agent-loop worker expects one output per sample,
  while :class:`~empg_gym.integrations.verl.EnvAgentLoop` returns one per turn (and its ``fit`` drops the
  actor's ``entropys`` after logging them, ray_trainer.py line 1601);
- ``algorithm.use_kl_in_reward`` with agent-loop turns: the estimators read the env's step rewards
  (``empg_reward``), not verl's KL-shaped token rewards, so the penalty would be silently lost; use the KL
  loss (``actor_rollout_ref.actor.use_kl_loss``), as the recipes do.

Needs verl 0.9.1 with TransferQueue (``scripts/install_verl_venv.sh``); tested on a CPU with a local Ray,
TransferQueue's in-memory storage and a stub actor (tests/integrations/test_verl.py).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from empg_gym._optional import require
from empg_gym.integrations import verl as verl_int

_WHY = "verl's v1 trainer; install it with scripts/install_verl_venv.sh (docs/scale.md)"
tq = require("transfer_queue", extra="verl", why=_WHY)
torch = require("torch", extra="verl", why=_WHY)
_v1 = require("verl.trainer.ppo.v1", extra="verl", why=_WHY)
_trainer_base = require("verl.trainer.ppo.v1.trainer_base", extra="verl", why=_WHY)

__all__ = ["STOCK_TRAINERS", "StepFieldsMixin", "install", "install_trainers", "read_step_fields", "train"]


def read_step_fields(batch: Any, *, need_entropy: bool) -> dict[str, Any]:
    """The rows' token entropies and ``empg_*`` fields from TransferQueue, for ``trainer_step_fields``.

    Args:
        batch: The trainer's ``KVBatchMeta`` (keys, partition, tags) at the advantage step.
        need_entropy: Raise if the rows have no ``entropy`` field (EMPG).

    Returns:
        ``{"rows": B, "entropy": [B, L] tensor or None, "non_tensor": {"empg_*": [B] arrays}}``.
    """
    keys = list(batch.keys)
    n = len(keys)
    # TransferQueue leaves out a selected field the rows do not have (no error)
    td = tq.kv_batch_get(keys=keys, partition_id=batch.partition_id, select_fields=["extra_fields", "entropy"])
    entropy = None
    if "entropy" in td.keys():
        ent = td["entropy"]  # response tokens only, as _compute_old_log_prob stored them
        entropy = torch.nested.to_padded_tensor(ent, 0.0) if ent.is_nested else ent  # [B, L]
    elif need_entropy:
        raise ValueError(
            "EMPG needs the actor's token entropies, which verl stores as 'entropy' in its old-log-prob pass; "
            "these rows have none (algorithm.rollout_correction.bypass_mode=true skips that pass: turn it off "
            "for EMPG)"
        )
    padding = np.array([bool(tag.get("is_padding", False)) for tag in batch.tags], dtype=bool)
    extras = [dict(x or {}) for x in td["extra_fields"]] if "extra_fields" in td.keys() else [{}] * n
    real = [e for e, p in zip(extras, padding, strict=True) if not p]
    names = sorted({k for e in real for k in e if k.startswith("empg_")})
    missing = [k for k in names if any(k not in e for e in real)]
    if missing:
        raise ValueError(
            f"some rows lack the agent-loop fields {missing}: every row of an empg-gym estimator's batch must "
            f"come from the same agent loop ({verl_int.AGENT_LOOP_NAME}, or none with empg_* fields)"
        )
    non_tensor: dict[str, np.ndarray] = {}
    for k in names:
        col = np.empty(n, dtype=object)  # object columns, as verl keeps agent-loop fields
        col[:] = [e.get(k, real[0][k]) for e in extras]  # padding rows copy a real row's: left out below
        non_tensor[k] = col
    if padding.any():
        non_tensor["empg_padding"] = padding  # the estimators skip these rows (advantage 0)
    return {"rows": n, "entropy": entropy, "non_tensor": non_tensor}


class StepFieldsMixin:
    """Overrides ``PPOTrainer._compute_advantage`` of verl 0.9.1's v1 trainer (module docstring).

    verl 0.9.1 lines concerned (``verl/trainer/ppo/v1/trainer_base.py``): ``_compute_advantage`` starts at
    line 1743 and reads its fixed field list at line 1745; ``_compute_old_log_prob`` stores the response
    entropies at lines 1668-1671; ``_balance_batch`` adds the padding rows at line 1621. The override copies
    none of them: it reads two more fields of the rows that method reads and then calls it.
    """

    config: Any

    def _compute_advantage(self, batch: Any, metrics: dict) -> Any:
        name = verl_int.empg_gym_name(self.config.algorithm.adv_estimator)
        if name is None:  # one of verl's own estimators: verl's step as it is
            return super()._compute_advantage(batch, metrics)  # type: ignore[misc]
        verl_int.patch_trainer()  # idempotent; verl's step then calls empg-gym's compute_advantage
        fields = read_step_fields(batch, need_entropy=name == "empg")
        if self.config.algorithm.use_kl_in_reward and "empg_reward" in fields["non_tensor"]:
            raise ValueError(
                "algorithm.use_kl_in_reward=true: empg-gym's estimators read the env's step rewards of "
                "agent-loop turns, so a KL penalty in the reward would be lost; set it false and use "
                "actor_rollout_ref.actor.use_kl_loss=true"
            )
        with verl_int.trainer_step_fields(fields):
            return super()._compute_advantage(batch, metrics)  # type: ignore[misc]


class PPOTrainerSync(StepFieldsMixin, _v1.PPOTrainerSync):  # type: ignore[misc,name-defined]
    """verl's ``sync`` v1 trainer with :class:`StepFieldsMixin`."""


class PPOTrainerColocateAsync(StepFieldsMixin, _v1.PPOTrainerColocateAsync):  # type: ignore[misc,name-defined]
    """verl's ``colocate_async`` v1 trainer with :class:`StepFieldsMixin`."""


class PPOTrainerSeparateAsync(StepFieldsMixin, _v1.PPOTrainerSeparateAsync):  # type: ignore[misc,name-defined]
    """verl's ``separate_async`` v1 trainer with :class:`StepFieldsMixin`."""


#: verl's trainer class of each mode, as registered before :func:`install_trainers`.
STOCK_TRAINERS: dict[str, type] = {
    "sync": _v1.PPOTrainerSync,
    "colocate_async": _v1.PPOTrainerColocateAsync,
    "separate_async": _v1.PPOTrainerSeparateAsync,
}
OURS: dict[str, type] = {
    "sync": PPOTrainerSync,
    "colocate_async": PPOTrainerColocateAsync,
    "separate_async": PPOTrainerSeparateAsync,
}


def install_trainers() -> dict[str, type]:
    """Put our trainer of each mode in verl's v1 trainer registry, under verl's mode names (idempotent).

    A mode whose registered class is no longer verl's stock one (another extension replaced it) is left
    alone, so two extensions never silently undo each other.

    Returns:
        The registry entries now ours.
    """
    registry = _trainer_base.TRAINER_REGISTRY
    done = {}
    for mode, ours in OURS.items():
        if registry.get(mode) in (STOCK_TRAINERS[mode], ours):
            registry[mode] = ours
            done[mode] = ours
    return done


def install(estimator_kwargs: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Everything empg-gym adds to verl: ``empg_gym.integrations.verl.install`` and :func:`install_trainers`.

    Idempotent; :func:`train` runs it in the driver and in every Ray worker process.

    Returns:
        The verl names of the registered estimators.
    """
    names = verl_int.install(estimator_kwargs)
    install_trainers()
    return names


#: verl config key of the Ray hook that runs :func:`install` in every worker process.
SETUP_HOOK_KEY = "ray_kwargs.ray_init.runtime_env.worker_process_setup_hook"


def train(overrides: Sequence[str]) -> int:
    """Run verl's ``main_ppo`` (its Hydra overrides as arguments) with empg-gym installed everywhere.

    Adds ``+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=<this module>.install`` unless the
    overrides set that key, and runs :func:`install` here too. Hydra's own flags pass through (``--cfg job``
    prints the composed config and trains nothing).

    Raises:
        SystemExit: ``trainer.use_v1=false`` (the legacy trainer cannot take one row per turn).
    """
    for o in overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if key == "trainer.use_v1" and value.strip().lower() in ("false", "0", "no", "off"):
            raise SystemExit(
                "trainer.use_v1=false: empg-gym's agent loop returns one row per turn, which only verl's v1 "
                "trainer takes (the legacy trainer's agent-loop worker expects one output per sample); "
                "leave trainer.use_v1 at its default, true"
            )
    args = list(overrides)
    if not any(o.lstrip("+").startswith(SETUP_HOOK_KEY + "=") for o in args):
        args.append(f"+{SETUP_HOOK_KEY}={__name__}.install")
    install()
    from verl.trainer import main_ppo

    saved = sys.argv
    sys.argv = [str(main_ppo.__file__), *args]
    try:
        main_ppo.main()
    finally:
        sys.argv = saved
    return 0


if __name__ == "__main__":
    raise SystemExit(train(sys.argv[1:]))

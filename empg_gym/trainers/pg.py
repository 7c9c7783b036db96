"""The policy-gradient trainer every estimator shares (GRPO, DAPO, RLOO, REINFORCE++, GiGPO, EMPG).

One iteration, top to bottom:

1. **Rollout**: draw ``groups_per_batch`` tasks from the training pool, play each ``group_size`` times with
   the current policy (:func:`empg_gym.rollout.collect`, one batched generate per turn).
2. **Rewards**: shape the env rewards for training (:func:`shaped_rewards`: scale, success bonus;
   :func:`step_penalties`: invalid-format penalty, DAPO's overlong penalty, placed as ``cfg.protocol``
   says). With ``dynamic_sampling`` (DAPO), groups whose returns are all equal are dropped and more tasks
   are rolled out to refill the batch.
3. **Table**: the trajectories are flattened once into a :class:`~empg_gym.types.StepBatch` (one row per
   step: rewards, penalties, anchors, prompt and response token ids); every later array is aligned with its
   rows.
4. **Scoring**: one forward pass of the rollout policy over every row gives the old log-probs and exact
   full-vocabulary token entropies (:mod:`.scoring`); the reference policy's log-probs when ``kl_coef > 0``.
   They form a :class:`~empg_gym.trainers.scoring.ScoredBatch` (``[N, R]`` tensors, ``[N]`` arrays).
5. **Estimator**: ``advantages.get(cfg.estimator)(batch, **cfg.estimator_call_kwargs())`` (the estimator's
   kwargs plus ``protocol``) -> one advantage per row, stored in the ScoredBatch (PPO adds its value targets
   there too).
6. **Update**: ``ppo_epochs`` passes of shuffled minibatches of rows (``minibatch_size`` steps, accumulated over
   micro-batches of ``micro_batch_size``), the clipped surrogate of :mod:`.loss`, gradient clipping, AdamW.
   Rows whose advantage is 0 at every token add nothing to the loss or its gradient when there is no KL,
   entropy or extra (value) term, so they are not run through the model (the loss keeps the minibatch's
   token and step counts as its normalisers): same update, a fraction of the cost when most groups'
   returns are equal (GRPO on sparse rewards).
7. **Log and save**: a metrics row (JSONL) per iteration; a checkpoint every ``save_every`` iterations.

Reproducibility: everything random in iteration ``i`` is seeded from ``(seed, i)`` (task draw, env reset
seeds, sampling, minibatch shuffles), so a run resumed from a checkpoint continues exactly as the
uninterrupted run would have (same weights, on the same hardware and thread count).

:class:`PGTrainer` keeps the phases as methods; :mod:`.ppo` adds its critic by overriding ``score`` (values),
``estimate`` (GAE, value targets) and ``extra_loss`` (value loss). The hooks pass everything they need as
arguments (nothing is kept on ``self`` between them). :meth:`PGTrainer.make_agent` is the seam for other rollout
engines: whatever generates the trajectories, the loss's old log-probs come from the scoring pass over
``self.model``. :func:`empg_gym.trainers.train` picks the trainer.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from empg_gym import advantages
from empg_gym.trainers.config import TrainConfig, save_yaml
from empg_gym.types import StepBatch, Trajectory

if TYPE_CHECKING:
    from empg_gym.trainers.scoring import Packed, ScoredBatch

logger = logging.getLogger(__name__)

_SEED_MOD = 2**31 - 1


def iteration_seed(seed: int, iteration: int, salt: int = 0) -> int:
    """A seed for iteration ``iteration`` of a run seeded ``seed`` (independent streams per ``salt``)."""
    return int(np.random.SeedSequence([seed, iteration, salt]).generate_state(1)[0]) % _SEED_MOD


def shaped_rewards(trajs: Sequence[Trajectory], cfg: TrainConfig) -> list[list[float]]:
    """Per-step training rewards of each trajectory.

    ``r = env_reward_scale * r_env + success_reward * [won and last step]``; under ``protocol: trajectory``
    minus the step's penalty (:func:`step_penalties`) as well, so that penalties enter the returns. Under
    ``verl-agent`` the penalties stay apart (``StepBatch.penalty``, see :meth:`PGTrainer.step_batch`): the
    estimators charge each to its own step row only, and the returns here (the dynamic-sampling filter, the
    ``train_return`` metric) are the episode rewards, as in verl-agent.
    """
    pens = step_penalties(trajs, cfg) if cfg.protocol == "trajectory" else None
    out = []
    for i, t in enumerate(trajs):
        row = []
        for j, turn in enumerate(t.turns):
            r = cfg.env_reward_scale * turn.reward
            if cfg.success_reward and t.won and j == len(t.turns) - 1:
                r += cfg.success_reward
            if pens is not None:
                r -= pens[i][j]
            row.append(float(r))
        out.append(row)
    return out


def step_penalties(trajs: Sequence[Trajectory], cfg: TrainConfig) -> list[list[float]]:
    """Per-step penalties (>= 0) of each trajectory.

    ``invalid_penalty * [invalid] + overlong``, where a step is invalid if its response broke the format or
    the env rejected its action, and ``overlong`` is DAPO's soft punishment: 0 up to
    ``max_new_tokens - overlong_buffer`` response tokens, then rising linearly to ``overlong_penalty`` at
    ``max_new_tokens`` (only when ``overlong_buffer > 0``). Both are properties of one response, so under
    ``verl-agent`` they land on that response's row (as verl-agent's invalid-action penalty and verl's DAPO
    overlong reward do).
    """
    lmax, buf = cfg.max_new_tokens, cfg.overlong_buffer
    out = []
    for t in trajs:
        row = []
        for turn in t.turns:
            p = 0.0
            if not (turn.format_valid and turn.action_valid):
                p += cfg.invalid_penalty
            if buf > 0:
                n = len(turn.token_ids)
                if n > lmax - buf:
                    p += min(1.0, (n - (lmax - buf)) / buf) * cfg.overlong_penalty
            row.append(float(p))
        out.append(row)
    return out


def informative_groups(trajs: Sequence[Trajectory], rewards: Sequence[Sequence[float]]) -> set[int]:
    """Group ids whose trajectory returns are not all equal (DAPO's dynamic-sampling filter)."""
    by_group: dict[int, list[float]] = {}
    for t, r in zip(trajs, rewards, strict=True):
        by_group.setdefault(t.group_id, []).append(float(sum(r)))
    return {g for g, rs in by_group.items() if max(rs) - min(rs) > 1e-9}


def build_model(cfg: TrainConfig, path: str | os.PathLike | None = None) -> tuple[Any, Any]:
    """The initial policy (or, with ``path``, a saved one) and its tokenizer, on the configured device.

    One loader for training and evaluation (:func:`empg_gym.policy.hf.load_model_and_tokenizer`): ``cfg.model``
    is spelled as an agent spec's model; a checkpoint folder is read by transformers' own loader (single or
    sharded safetensors).
    """
    from empg_gym.policy.hf import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(path if path is not None else cfg.model), device=cfg.device,
                                          dtype=cfg.dtype, seed=cfg.seed)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model, tok


def _one_trainer_per_run(train: Any) -> Any:
    """Hold the run folder's lock (:func:`empg_gym._io.run_lock`) while ``train`` runs."""
    import functools

    @functools.wraps(train)
    def locked(self: PGTrainer, *args: Any, **kwargs: Any) -> Path:
        from empg_gym._io import run_lock

        with run_lock(self.run_dir, "training"):
            return train(self, *args, **kwargs)

    return locked


class PGTrainer:
    """The shared policy-gradient loop (see the module docstring). ``train()`` runs it."""

    #: Leave rows with a zero advantage out of the update's forward/backward passes when that is exact
    #: (no KL, entropy or extra loss term); False runs every row (the same update, slower).
    skip_zero_advantage_rows: bool = True

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.run_dir = Path(cfg.output_dir)
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.start_iteration = 0
        self.engine: Any = None  # the vLLM rollout engine (rollout_engine: vllm), built in setup()
        self.env_pool: Any = None  # Ray env actors (env_workers > 0), started at the first rollout

    def _env_pool(self) -> Any:
        """The rollout's env pool: None (envs in this process) or Ray actors kept for the whole run."""
        cfg = self.cfg
        if cfg.env_workers and self.env_pool is None:
            from empg_gym.env_workers import RayEnvs

            expert = False  # the trainer's agents never read the expert
            self.env_pool = RayEnvs(cfg.env_id, dict(cfg.env_kwargs), cfg.max_steps, expert,
                                    cfg.groups_per_batch * cfg.group_size, workers=cfg.env_workers)
        return self.env_pool

    def _open_run(self) -> Path | None:
        """Tidy the run folder and return the checkpoint to resume from (None: start afresh).

        Runs under the run lock: removes what killed saves left behind, picks the newest *complete*
        checkpoint whatever ``latest`` says, and refuses to resume from (or overwrite) a folder whose
        checkpoints are all damaged. See :mod:`.checkpoint` for the crash-safety rules.
        """
        from empg_gym.trainers import checkpoint as ck

        cfg = self.cfg
        ck.clean_stale(self.run_dir)
        latest = ck.latest_checkpoint(self.run_dir)
        damaged = ck.run_checkpoint_problems(self.run_dir)
        if latest is None and damaged:
            if not cfg.resume:
                raise FileExistsError(f"{self.run_dir} already holds a run (with damaged checkpoints: "
                                      f"{'; '.join(damaged)}); choose another --output-dir")
            raise ck.CheckpointError(
                f"--resume: {self.run_dir} has no complete checkpoint to resume from: {'; '.join(damaged)}. "
                "Restore or delete the damaged checkpoint folders, or choose another --output-dir")
        if cfg.model != "tiny" and Path(cfg.model).is_dir():  # a damaged base model: name the file
            from empg_gym._validate import check_safetensors

            for f in sorted(Path(cfg.model).glob("*.safetensors")):
                check_safetensors(f)
        return latest if cfg.resume else None

    # ------------------------------------------------------------------------------------ setup
    def setup(self) -> None:
        """Build (or restore) the policy, reference policy and optimizer."""
        import torch

        from empg_gym.policy.hf import resolve_device
        from empg_gym.trainers import checkpoint as ck

        cfg = self.cfg
        if cfg.torch_threads > 0:
            torch.set_num_threads(cfg.torch_threads)
        self.device, self.dtype = resolve_device(cfg.device, cfg.dtype)
        _check_model_source(cfg.model)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        latest = self._open_run()
        if cfg.resume and latest is None:
            logger.warning("resume: no checkpoint in %s, starting from scratch", self.run_dir)
        if not cfg.resume and ck.latest_checkpoint(self.run_dir) is not None:
            raise FileExistsError(f"{self.run_dir} already holds a run; pass --resume to continue it, or "
                                  "choose another --output-dir")
        full_resume = latest is not None and cfg.lora_r == 0
        self.model, self.tokenizer = build_model(cfg, latest if full_resume else None)
        if cfg.lora_r > 0:
            torch.manual_seed(cfg.seed)  # peft initialises the adapters from the global RNG
            self._wrap_lora()
            if latest is not None:
                self._load_adapter(latest)
        self.ref_model = None
        if cfg.kl_coef > 0:
            self.ref_model, _ = build_model(cfg, None)  # the initial policy, rebuilt identically
            self.ref_model.eval().requires_grad_(False)
        self.build_extra()
        self.optimizer = torch.optim.AdamW(self.param_groups(), lr=cfg.lr,
                                           betas=(cfg.adam_betas[0], cfg.adam_betas[1]),
                                           weight_decay=cfg.weight_decay)
        if latest is not None:
            state = ck.load_trainer_state(latest, self.optimizer, self.extra_modules())
            self.start_iteration = int(state["iteration"])
            ck.truncate_metrics(self.metrics_path, self.start_iteration)
            logger.info("resumed from %s (iteration %d)", latest, self.start_iteration)
        elif self.metrics_path.exists():
            self.metrics_path.unlink()
        save_yaml(cfg, self.run_dir / "config.yaml")
        self.pad_id = getattr(self.tokenizer, "pad_token_id", None) or 0
        if cfg.rollout_engine == "vllm":
            from empg_gym.trainers.vllm_rollout import start_engine

            self.engine = start_engine(self)

    def _wrap_lora(self) -> None:
        from empg_gym._optional import require

        peft = require("peft", "train")
        lcfg = peft.LoraConfig(r=self.cfg.lora_r, lora_alpha=self.cfg.lora_alpha,
                               lora_dropout=self.cfg.lora_dropout,
                               target_modules=list(self.cfg.lora_target_modules), task_type="CAUSAL_LM")
        self.model = peft.get_peft_model(self.model, lcfg)

    def _load_adapter(self, ckpt: Path) -> None:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        adapter = ckpt / "adapter" / "adapter_model.safetensors"
        set_peft_model_state_dict(self.model, load_file(str(adapter)))

    def build_extra(self) -> None:
        """Hook: extra modules (the PPO critic)."""

    def extra_modules(self) -> dict[str, Any]:
        """Hook: modules saved alongside the policy."""
        return {}

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer parameter groups (the policy's trainable parameters; PPO adds its critic)."""
        return [{"params": [p for p in self.model.parameters() if p.requires_grad], "lr": self.cfg.lr}]

    # ---------------------------------------------------------------------------------- rollout
    def agent_spec(self) -> dict[str, Any]:
        """``agent.yaml`` of checkpoints: :meth:`TrainConfig.agent_spec`, unchanged except where the weights are.

        Full fine-tuning: ``model`` is left empty (the loader fills in the checkpoint folder). LoRA: the
        checkpoint holds only the adapter, so ``model`` stays the base model (a path resolved to absolute) and
        ``lora`` names the adapter folder.
        """
        d = self.cfg.agent_spec().to_dict()
        if self.cfg.lora_r > 0:
            if not str(d["model"]).startswith(("tiny:", "pkg:")):
                d["model"] = str(Path(d["model"]).resolve())
            d["lora"] = "adapter"
        else:
            d["model"] = None
        return d

    def make_agent(self, seed: int) -> Any:
        """The rollout agent: samples with the live policy weights (the seam for other rollout engines).

        With ``rollout_engine: vllm`` it is a vLLM agent over the engine's copy of the weights (synced after every
        update). Any agent whose samples carry ``prompt_token_ids``/``token_ids`` of ``self.tokenizer`` fits; the
        scoring pass recomputes every log-prob the loss uses with ``self.model``.
        """
        from empg_gym.policy.hf import TransformersAgent

        spec = self.cfg.agent_spec().replace(model="<in memory>", seed=seed)
        if self.engine is not None:
            from empg_gym.trainers.vllm_rollout import engine_agent

            return engine_agent(self.engine, spec.to_dict(), self.tokenizer)
        return TransformersAgent(self.model, self.tokenizer, spec=spec)

    def rollout(self, it: int) -> tuple[list[Trajectory], list[list[float]], dict[str, Any]]:
        """Trajectories (with group ids unique in the batch), their shaped rewards, and rollout stats."""
        import torch

        from empg_gym.rollout import collect

        cfg = self.cfg
        rng = np.random.default_rng(iteration_seed(cfg.seed, it, 1))
        trajs: list[Trajectory] = []
        rewards: list[list[float]] = []
        all_trajs: list[Trajectory] = []
        rounds = cfg.dynamic_sampling_max_rounds if cfg.dynamic_sampling else 1
        kept = 0
        rounds_run = 0
        self.model.eval()
        for rnd in range(rounds):
            need = cfg.groups_per_batch - kept
            if need <= 0:
                break
            rounds_run += 1
            n = cfg.groups_per_batch if rnd == 0 else need
            idx = rng.choice(cfg.task_pool, size=n, replace=n > cfg.task_pool)
            seed = iteration_seed(cfg.seed, it, 2 + rnd)
            torch.manual_seed(seed)
            agent = self.make_agent(seed)
            batch = collect(agent, cfg.env_id, tasks=[{"task_index": cfg.task_offset + int(i)} for i in idx],
                            group_size=cfg.group_size, seed=seed % 1_000_000_007, env_kwargs=cfg.env_kwargs,
                            max_steps=cfg.max_steps, progress=False, env_workers=self._env_pool())
            r = shaped_rewards(batch, cfg)
            all_trajs += batch
            if cfg.dynamic_sampling:
                keep = sorted(informative_groups(batch, r))[:need]
                pairs = [(t, rr) for t, rr in zip(batch, r, strict=True) if t.group_id in keep]
            else:
                keep = sorted({t.group_id for t in batch})
                pairs = list(zip(batch, r, strict=True))
            remap = {g: kept + j for j, g in enumerate(keep)}
            for t, rr in pairs:
                trajs.append(dataclasses.replace(t, group_id=remap[t.group_id]))
                rewards.append(rr)
            kept += len(keep)
        stats = trajectory_stats(all_trajs)
        stats["groups_kept"] = kept
        # the share of trained groups with any return signal (GRPO-family advantages are 0 in the others)
        stats["groups_informative"] = len(informative_groups(trajs, rewards)) / max(kept, 1)
        stats["rollout_rounds"] = rounds_run
        return trajs, rewards, stats

    # ---------------------------------------------------------------------------------- scoring
    def step_batch(self, trajs: Sequence[Trajectory], rewards: Sequence[Sequence[float]]) -> StepBatch:
        """The batch's one per-step table: rewards, penalties (verl-agent), anchors and token ids of every step.

        Everything computed later (scores, entropies, values, advantages) is aligned with its rows.
        """
        pens = step_penalties(trajs, self.cfg) if self.cfg.protocol == "verl-agent" else None
        batch = StepBatch.from_trajectories(trajs, rewards=rewards, penalties=pens)
        if self.cfg.choice_gradient == "choice":
            from empg_gym.trainers.choice import choice_table

            batch = dataclasses.replace(batch, choices=choice_table(trajs, self.tokenizer))
        return batch

    def score(self, batch: StepBatch) -> ScoredBatch:
        """Old (and reference) log-probs and exact entropies of every step's response, under ``self.model``.

        Whatever engine produced the rollout (see :meth:`make_agent`), the loss's old log-probs come from here.
        """
        from empg_gym.trainers.scoring import ScoredBatch, TokenScores, score_rows, step_entropies

        assert batch.prompt_ids is not None and batch.response_ids is not None
        kw: dict[str, Any] = {"micro_batch_size": self.cfg.micro_batch_size,
                              "temperature": self.cfg.temperature, "pad_id": self.pad_id,
                              "device": self.device}
        chosen = self._choice_rows(batch)
        resp = batch.response_ids
        if len(chosen):  # chosen steps are scored as choices below, not as tokens
            resp = resp.copy()
            for i in chosen:
                resp[i] = ()
        pol = score_rows(self.model, batch.prompt_ids, resp, with_entropy=True, **kw)
        ref = None
        if self.ref_model is not None:
            ref = score_rows(self.ref_model, batch.prompt_ids, resp, with_entropy=False, **kw).logp
        if not len(chosen):
            return ScoredBatch(old_logp=pol.logp, mask=pol.mask, ref_logp=ref, step_entropy=step_entropies(pol))
        # a chosen step is one unit of the loss: column 0 holds log pi(chosen), the entropy is pi's
        import torch
        from torch.nn.functional import pad

        assert pol.entropy is not None  # scored with_entropy=True
        extra_col = (0, 1 if pol.mask.shape[1] == 0 else 0)  # all steps chosen: no token column yet
        logp, mask, ent = pad(pol.logp, extra_col), pad(pol.mask, extra_col), pad(pol.entropy, extra_col)
        ref = None if ref is None else pad(ref, extra_col)
        with torch.no_grad():
            lp, h = self._choice_logp(self.model, batch, chosen)
            logp[chosen, 0], mask[chosen, 0], ent[chosen, 0] = lp, 1.0, h
            if ref is not None:
                ref[chosen, 0] = self._choice_logp(self.ref_model, batch, chosen)[0]
        return ScoredBatch(old_logp=logp, mask=mask, ref_logp=ref,
                           step_entropy=step_entropies(TokenScores(logp, mask, ent)))

    def _choice_rows(self, batch: StepBatch) -> np.ndarray:
        """Rows trained as a choice among admissible actions (``choice_gradient: choice``)."""
        if batch.choices is None:
            return np.zeros(0, dtype=np.int64)
        return np.asarray([i for i, c in enumerate(batch.choices) if c is not None], dtype=np.int64)

    def _choice_logp(self, model: Any, batch: StepBatch, rows: np.ndarray) -> tuple[Any, Any]:
        """``[len(rows)]`` tensors: log pi(chosen) and pi's entropy of each row (with grad if autograd is on)."""
        import torch

        from empg_gym.trainers.choice import choice_log_prob

        assert batch.choices is not None and batch.prompt_ids is not None
        lps, hs = [], []
        for i in rows:
            lp, h = choice_log_prob(model, batch.prompt_ids[i], batch.choices[i], temperature=self.cfg.temperature,
                                    reduce=self.cfg.choice_score)
            lps.append(lp)
            hs.append(h)
        return torch.stack(lps), torch.stack(hs)

    # -------------------------------------------------------------------------------- estimator
    def attach_scores(self, batch: StepBatch, scored: ScoredBatch) -> StepBatch:
        """The table with the scoring pass's columns filled in: ``entropy``, ``n_tokens`` (PPO: ``value``).

        The one place where numbers computed from the model enter the estimator's input. A step the scoring
        pass skipped (no prompt or no response tokens) gets ``n_tokens`` 0: it has no entropy (EMPG leaves it
        out of its statistics) and no weight in per-token whitening.
        """
        n_tokens = scored.mask.sum(-1).numpy().round().astype(np.int64)
        return dataclasses.replace(batch, entropy=scored.step_entropy, value=scored.values, n_tokens=n_tokens)

    def estimate(self, batch: StepBatch, scored: ScoredBatch) -> ScoredBatch:
        """``scored`` with per-step advantages from the configured estimator (its kwargs plus ``protocol``).

        ``batch`` carries the scoring pass's columns (:meth:`attach_scores`).
        """
        adv = advantages.get(self.cfg.estimator)(batch, **self.cfg.estimator_call_kwargs())
        return dataclasses.replace(scored, advantages=np.asarray(adv, dtype=np.float64))

    # ----------------------------------------------------------------------------------- update
    def extra_loss(self, batch: StepBatch, scored: ScoredBatch, rows: np.ndarray, packed: Packed,
                   n_seqs: float) -> Any:
        """Hook: an extra loss term for the micro-batch ``rows`` (the PPO value loss). ``None`` = nothing."""
        return None

    def update(self, it: int, batch: StepBatch, scored: ScoredBatch) -> dict[str, float]:
        """``ppo_epochs`` passes of shuffled minibatches over the scored steps; returns averaged statistics.

        One index space: the rows of ``batch``/``scored``. Each epoch permutes the live rows, cuts them into
        minibatches of ``minibatch_size`` steps (one optimizer step each), and accumulates gradients over
        micro-batches of ``micro_batch_size`` steps, normalised by the minibatch's totals. With
        :attr:`skip_zero_advantage_rows`, ``pg_clipfrac`` and ``approx_kl`` are averaged over the tokens of
        the rows that were run (those with a non-zero advantage).
        """
        import torch

        from empg_gym.trainers.loss import policy_loss
        from empg_gym.trainers.scoring import pack, response_logits, token_logprobs_entropy

        cfg = self.cfg
        assert scored.advantages is not None and batch.prompt_ids is not None and batch.response_ids is not None
        live = scored.live
        if not len(live):
            return {}
        g = torch.Generator().manual_seed(iteration_seed(cfg.seed, it, 100))
        tot = {"clip": 0.0, "akl": 0.0, "rkl": 0.0, "ent": 0.0, "tok": 0.0, "loss": 0.0, "extra": 0.0}
        norms = []
        n_opt = 0
        params = [p for grp in self.optimizer.param_groups for p in grp["params"]]
        # rows with a zero advantage contribute exactly 0 to the clipped surrogate and its gradient; with no
        # other loss term on them they can be left out of the forward/backward passes
        skip_zero = (self.skip_zero_advantage_rows and cfg.kl_coef == 0 and cfg.entropy_coef == 0
                     and type(self).extra_loss is PGTrainer.extra_loss)
        adv_rows = np.asarray(scored.advantages)
        if adv_rows.ndim > 1:
            adv_rows = np.abs(adv_rows).max(axis=tuple(range(1, adv_rows.ndim)))
        nonzero = adv_rows != 0
        chosen = self._choice_rows(batch)
        self.model.train()
        for _epoch in range(cfg.ppo_epochs):
            perm = live[torch.randperm(len(live), generator=g).numpy()]
            for start in range(0, len(perm), cfg.minibatch_size):
                mb = perm[start:start + cfg.minibatch_size]
                n_tokens = float(scored.mask[mb].sum())
                n_seqs = float(len(mb))
                self.optimizer.zero_grad(set_to_none=True)
                run = mb[nonzero[mb]] if skip_zero else mb
                if not len(run):  # a zero gradient; AdamW still steps (its moments move the weights)
                    for p in params:
                        p.grad = torch.zeros_like(p)
                for u in range(0, len(run), cfg.micro_batch_size):
                    rows = run[u:u + cfg.micro_batch_size]
                    is_choice = np.isin(rows, chosen)
                    parts: list[tuple[Any, ...]] = []
                    if (~is_choice).any():  # steps trained token by token
                        trows = rows[~is_choice]
                        pb = pack([(batch.prompt_ids[i], batch.response_ids[i]) for i in trows],
                                  self.pad_id).to(self.device)
                        width = pb.resp_mask.shape[1]
                        if not torch.equal(pb.resp_mask.cpu(), scored.mask[trows, :width]):
                            raise RuntimeError("update: the scored tokens are not aligned with the batch's rows")
                        logp, ent = token_logprobs_entropy(response_logits(self.model, pb), pb.resp_ids,
                                                           temperature=cfg.temperature,
                                                           with_entropy=cfg.entropy_coef > 0)
                        parts.append((trows, logp, ent, pb.resp_mask, width, pb))
                    if is_choice.any():  # steps trained as one choice each (column 0)
                        crows = rows[is_choice]
                        lp, h = self._choice_logp(self.model, batch, crows)
                        ones = torch.ones(len(crows), 1, device=self.device)
                        parts.append((crows, lp[:, None], h[:, None] if cfg.entropy_coef > 0 else None, ones, 1,
                                      None))
                    for prows, logp, ent, rmask, width, pb in parts:
                        old = scored.old_logp[prows, :width].to(self.device)
                        ref = None if scored.ref_logp is None else scored.ref_logp[prows, :width].to(self.device)
                        a = torch.as_tensor(scored.advantages[prows], dtype=torch.float32, device=self.device)
                        if pb is None and a.dim() > 1:  # token advantages: a choice is column 0
                            a = a[:, :1]
                        out = policy_loss(logp, old, a, rmask, clip_low=cfg.clip_low, clip_high=cfg.clip_high,
                                          loss_agg=cfg.loss_agg, n_tokens=n_tokens, n_seqs=n_seqs, ref_logp=ref,
                                          kl_coef=cfg.kl_coef, entropy=ent, entropy_coef=cfg.entropy_coef)
                        loss = out.loss
                        if pb is not None:
                            extra = self.extra_loss(batch, scored, prows, pb, n_seqs)
                            if extra is not None:
                                loss = loss + extra
                                tot["extra"] += float(extra.detach())
                        loss.backward()
                        tot["clip"] += out.pg_clipfrac_sum
                        tot["akl"] += out.approx_kl_sum
                        tot["rkl"] += out.ref_kl_sum
                        tot["ent"] += out.entropy_sum
                        tot["tok"] += out.n_tokens
                        tot["loss"] += float(out.loss.detach())
                if cfg.max_grad_norm > 0:
                    gn = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                else:
                    gn = torch.linalg.vector_norm(
                        torch.stack([p.grad.norm() for p in params if p.grad is not None]))
                norms.append(float(gn))
                self.optimizer.step()
                n_opt += 1
        self.model.eval()
        ntok = max(tot["tok"], 1.0)
        stats = {"pg_clipfrac": tot["clip"] / ntok, "approx_kl": tot["akl"] / ntok,
                 "grad_norm": float(np.mean(norms)),
                 "loss": tot["loss"] / max(n_opt, 1), "optimizer_steps": n_opt}
        if cfg.kl_coef > 0:
            stats["ref_kl"] = tot["rkl"] / ntok
        if cfg.entropy_coef > 0:
            stats["update_entropy"] = tot["ent"] / ntok
        if tot["extra"]:
            stats["extra_loss"] = tot["extra"] / max(n_opt, 1)
        return stats

    # ------------------------------------------------------------------------------------- loop
    def set_lr(self, it: int) -> float:
        """Linear warm-up, then constant."""
        f = 1.0 if self.cfg.warmup_iterations == 0 else min(1.0, (it + 1) / self.cfg.warmup_iterations)
        for grp in self.optimizer.param_groups:
            grp["lr"] = grp.setdefault("base_lr", grp["lr"]) * f
        return self.cfg.lr * f

    def save(self, it_done: int) -> Path:
        """Checkpoint after ``it_done`` iterations."""
        from empg_gym.trainers.checkpoint import save_checkpoint

        model = self.model
        if self.cfg.lora_r > 0:
            model = _LoraSaver(self.model)
        return save_checkpoint(self.run_dir, it_done, model=model, tokenizer=self.tokenizer,
                               optimizer=self.optimizer, cfg=self.cfg, agent_spec=self.agent_spec(),
                               extra_modules=self.extra_modules(), keep=self.cfg.keep_checkpoints)

    def _save_pending(self, done: int | None) -> None:
        """Save the checkpoint after ``done`` iterations (whose metrics row is written), if any."""
        if done is not None:
            ts = time.perf_counter()
            self.save(done)
            logger.info("checkpoint after iteration %d saved in %.2f s", done, time.perf_counter() - ts)

    def iteration(self, it: int) -> dict[str, Any]:
        """Run one iteration and return its metrics row."""
        import torch

        t0 = time.perf_counter()
        lr = self.set_lr(it)
        trajs, rewards, stats = self.rollout(it)
        if self.engine is not None:
            self.engine.sleep()  # CUDA sleep mode: free the engine's memory for scoring and the update
        t1 = time.perf_counter()
        row: dict[str, Any] = {"iteration": it, "lr": lr, **stats}
        if not trajs:
            row.update({"skipped": "no informative groups", "time_rollout": t1 - t0})
            return row
        batch = self.step_batch(trajs, rewards)
        with torch.no_grad():
            scored = self.score(batch)
        t2 = time.perf_counter()
        batch = self.attach_scores(batch, scored)
        scored = self.estimate(batch, scored)
        t3 = time.perf_counter()
        upd = self.update(it, batch, scored)
        t4 = time.perf_counter()
        if self.engine is not None:
            upd["time_weight_sync"] = self.engine.sync_weights(self.model)
        adv = scored.advantages
        assert adv is not None
        live = scored.live
        row.update({
            "train_return": float(np.mean([sum(r) for r in rewards])),
            "step_entropy": float(scored.step_entropy[live].mean()) if len(live) else 0.0,
            # the distribution of step entropies (EMPG's signal), per iteration
            **{f"step_entropy_p{q}": float(np.percentile(scored.step_entropy[live], q)) if len(live) else 0.0
               for q in (10, 50, 90)},
            "adv_mean": float(adv.mean()), "adv_std": float(adv.std()),
            "adv_abs_max": float(np.abs(adv).max()),
            "steps": len(batch), "tokens": scored.n_tokens, **upd,
            "time_rollout": t1 - t0, "time_scoring": t2 - t1, "time_estimator": t3 - t2,
            "time_update": t4 - t3,
        })
        return row

    @_one_trainer_per_run
    def train(self, *, stop_after: int | None = None) -> Path:
        """Run (or continue) training, holding the run folder's lock; returns the run folder.

        Args:
            stop_after: Stop after this many iterations in total (tests: simulates a kill after a checkpoint).
        """
        from empg_gym._progress import ProgressBar
        from empg_gym.trainers.checkpoint import append_metrics

        self.setup()
        cfg = self.cfg
        # A checkpoint is saved only after the metrics row of its iteration is written (at the top of the
        # next iteration, or after the loop): a kill in between leaves a row past the checkpoint, which the
        # resumed run truncates and recomputes (see checkpoint.py). Never a checkpoint without its row.
        pending: int | None = None
        end = cfg.iterations if stop_after is None else min(cfg.iterations, stop_after)
        bar = ProgressBar(cfg.iterations, "train", enabled=cfg.progress, completed=self.start_iteration)
        nan = float("nan")
        try:
            for it in range(self.start_iteration, end):
                self._save_pending(pending)
                t0 = time.perf_counter()
                row = self.iteration(it)
                done = it + 1
                pending = done if done % cfg.save_every == 0 or done == cfg.iterations else None
                row["time_total"] = time.perf_counter() - t0
                append_metrics(self.metrics_path, row)
                bar.advance(status=f"success {row.get('success', nan):.2f} return {row.get('train_return', nan):.2f}")
        finally:
            bar.close()
            if self.env_pool is not None:
                self.env_pool.close()
                self.env_pool = None
        self._save_pending(pending)
        return self.run_dir


def _check_model_source(model: str) -> None:
    """Fail before anything loads when the model folder is missing (``tiny:``/``pkg:`` need no folder)."""
    if model.startswith(("tiny:", "pkg:")):
        return
    if not Path(os.path.expanduser(model)).is_dir():
        raise FileNotFoundError(f"model {model!r}: no such folder (give a local Hugging Face folder or checkpoint; "
                                "nothing is downloaded), or use model: tiny:qwen2")


def trajectory_stats(trajs: Sequence[Trajectory]) -> dict[str, float]:
    """Success, score, env return, episode length and invalid-action rate of a rollout."""
    if not trajs:
        return {"episodes": 0}
    turns = [u for t in trajs for u in t.turns]
    return {
        "episodes": len(trajs),
        "success": float(np.mean([t.won for t in trajs])),
        "score": float(np.mean([t.score for t in trajs])),
        "return": float(np.mean([t.total_reward for t in trajs])),
        "episode_length": float(np.mean([len(t) for t in trajs])),
        "invalid_rate": float(np.mean([not (u.format_valid and u.action_valid) for u in turns])),
    }


class _LoraSaver:
    """Saves a peft model's adapter under ``adapter/`` and nothing else (the base model stays where it is)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def save_pretrained(self, path: str | os.PathLike, **kw: Any) -> None:
        self.model.save_pretrained(Path(path) / "adapter", **kw)

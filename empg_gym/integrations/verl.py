"""empg-gym inside verl: our advantage estimators in verl's registry, and an agent loop for ``empg/*`` envs.

verl (FSDP/Megatron training, vLLM/SGLang generation, Ray orchestration) is what paper-scale runs use; the
EMPG and GiGPO papers ran on verl-agent, a verl fork. This module adds nothing distributed of its own: it
gives verl's two extension points what they need.

**Estimators** (:func:`register_estimators`). Every empg-gym estimator is registered with
``verl.trainer.ppo.core_algos.register_adv_est`` as ``empg_gym_<name>`` (our conventions exactly), and under
its bare name when verl has no estimator of that name (``empg``, ``gigpo``, ``reinforce_pp``, ...; verl's
own ``grpo``, ``rloo``, ``gae`` are left alone). A registered function builds a
:class:`~empg_gym.types.StepBatch` from the verl batch and calls the empg-gym estimator, so it computes
exactly what empg-gym computes on the same steps. The **step layout** (:func:`steps_from_verl`):

- one batch row per agent turn, as :class:`EnvAgentLoop` returns them (a list of outputs per episode, the
  layout of verl's v1 trainer, ``trainer.use_v1=True``, and of verl-agent), with per-row fields in
  ``non_tensor_batch``: ``empg_traj`` (episode key), ``empg_step``, ``empg_reward`` (the env's step reward),
  ``empg_terminated``, ``empg_truncated``, ``empg_anchor`` (the observation, GiGPO's state key);
- the group of a row is verl's ``uid`` (the ``index`` argument), as in verl's own GRPO;
- the step entropy (EMPG) is the mean over the row's response tokens (``response_mask``) of the token
  entropies of the actor's log-prob pass (``batch["entropy"]``, or ``batch["entropys"]``), or a per-row
  ``non_tensor_batch["empg_entropy"]``;
- without ``empg_traj`` each row is a one-step episode whose reward is the row's summed
  ``token_level_rewards`` (verl's single-sequence agent loops); then ``empg_gym_grpo`` is outcome GRPO.

The step advantage is spread over the row's response tokens (``advantages = returns = A x response_mask``), as
the empg-gym trainer does. Hyperparameters come from :func:`register_estimators` (``estimator_kwargs``) or the
``EMPG_GYM_ESTIMATOR_KWARGS`` environment variable (JSON, ``{"empg": {"zeta": 0.1}}``), which a launch script
can hand to verl's Ray workers through ``ray_kwargs.ray_init.runtime_env.env_vars``.

Deviations forced by verl 0.9.1:

- its ``compute_advantage`` passes registered estimators only ``token_level_rewards``, ``response_mask``,
  ``index`` and ``config`` (the whole batch goes only to ``gdpo``). :func:`compute_advantage` is the same
  step with the batch passed through; :func:`patch_trainer` swaps it into verl's trainer modules
  (``ray_trainer`` and ``v1.utils``);
- its v1 trainer builds that batch from a fixed list of stored fields, without the actor's ``entropy`` and
  the agent loop's ``extra_fields``. :mod:`empg_gym.integrations.verl_trainer` subclasses the v1 trainers so
  the advantage step reads them too, and hands them over with :func:`trainer_step_fields`; verl's synthetic
  padding rows come flagged ``empg_padding`` and are left out of the estimate (advantage 0).

Without these the estimators still run, on the one-step layout, and EMPG stops with an error saying what is
missing. ``python -m empg_gym.integrations.verl_trainer OVERRIDE...`` runs verl's ``main_ppo`` with both in
every Ray worker process.

**Agent loop** (:class:`EnvAgentLoop`, verl name ``empg_gym_env``). It plays one ``empg/*`` episode per
dataset row, turn by turn: the prompt of each turn is empg-gym's prompt template over the history window
(the same token ids as :class:`~empg_gym.policy.hf.TransformersAgent`), the response comes from verl's async
generation server, the template's projection gives the env action, and the env steps in a thread (so other
episodes keep generating meanwhile). It returns one ``AgentLoopOutput`` per turn (prompt ids, response ids,
mask, log-probs) with the ``empg_*`` fields above, so the actor's log-prob pass yields per-turn token
entropies and the estimators see turn boundaries. The episode is :func:`play_episode`, which gives the same
:class:`~empg_gym.types.Trajectory` as :func:`empg_gym.rollout.collect` for the same responses.

Needs GPUs to train (verl's FSDP/Megatron workers and vLLM/SGLang servers); the estimators, the agent loop and
its episode logic, and the trainer's advantage step run on a CPU (tests/integrations/test_verl.py). verl 0.9.1
pins ``transformers<5.11``: use a separate venv, made by ``scripts/install_verl_venv.sh`` (docs/scale.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np

from empg_gym import advantages
from empg_gym._optional import require
from empg_gym.types import History, StepBatch, Trajectory, Turn

_WHY = 'the verl integration; install verl in its own venv: pip install "empg-gym[verl]" (see docs/scale.md)'
torch = require("torch", extra="verl", why=_WHY)
_agent_loop = require("verl.experimental.agent_loop.agent_loop", extra="verl", why=_WHY)
core_algos = require("verl.trainer.ppo.core_algos", extra="verl", why=_WHY)

AgentLoopBase = _agent_loop.AgentLoopBase
AgentLoopMetrics = _agent_loop.AgentLoopMetrics
AgentLoopOutput = _agent_loop.AgentLoopOutput

__all__ = [
    "AGENT_LOOP_NAME",
    "EnvAgentLoop",
    "compute_advantage",
    "empg_gym_name",
    "install",
    "patch_trainer",
    "play_episode",
    "register_estimators",
    "steps_from_verl",
    "trainer_step_fields",
    "verl_estimator",
    "write_dataset",
]

#: verl agent-loop name of :class:`EnvAgentLoop` (``agent_name`` in the dataset rows).
AGENT_LOOP_NAME = "empg_gym_env"
#: Environment variable holding estimator hyperparameters as JSON: ``{"<estimator>": {...}}``.
KWARGS_ENV_VAR = "EMPG_GYM_ESTIMATOR_KWARGS"
_KWARGS: dict[str, dict[str, Any]] = {}
_OURS: dict[str, str] = {}  # verl name -> empg-gym estimator name
#: Fields the v1 trainer's advantage step adds to the batch (set by :func:`trainer_step_fields`).
_STEP_FIELDS: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "empg_gym_step_fields", default=None
)


# ----------------------------------------------------------------------------------------------- estimators
def _col(non_tensor: Mapping[str, Any] | None, key: str) -> np.ndarray | None:
    if non_tensor is None or key not in non_tensor:
        return None
    return np.asarray(non_tensor[key])


def steps_from_verl(
    token_level_rewards: Any,
    response_mask: Any,
    index: Sequence[Any] | None = None,
    batch: Mapping[str, Any] | None = None,
    non_tensor_batch: Mapping[str, Any] | None = None,
    *,
    need_entropy: bool = False,
) -> StepBatch:
    """The :class:`~empg_gym.types.StepBatch` of a verl batch whose rows are agent turns (module docstring).

    Args:
        token_level_rewards: ``[B, L]`` rewards (used when ``empg_reward`` is absent).
        response_mask: ``[B, L]`` 1 on response tokens.
        index: ``[B]`` group keys (verl's ``uid``); default: every row its own group.
        batch: verl's tensor batch (``entropy``/``entropys`` ``[B, L]``, ``values`` ``[B, L]``), if available.
        non_tensor_batch: verl's per-row fields (``empg_*``), if available.
        need_entropy: Raise if no entropy source exists.

    Returns:
        One step per row, in row order.
    """
    mask = torch.as_tensor(response_mask).to(torch.float64)  # [B, L]
    b = mask.shape[0]
    traj = _col(non_tensor_batch, "empg_traj")
    if traj is None:
        traj_id, step = np.arange(b), np.zeros(b, np.int64)
        reward = (torch.as_tensor(token_level_rewards).to(torch.float64) * mask).sum(-1).numpy()
        terminated, truncated = np.ones(b, bool), np.zeros(b, bool)
    else:
        traj_id = np.unique(traj.astype(str), return_inverse=True)[1].reshape(-1)
        step = np.asarray(_col(non_tensor_batch, "empg_step"), dtype=np.int64)
        reward = np.asarray(_col(non_tensor_batch, "empg_reward"), dtype=np.float64)
        terminated = np.asarray(_col(non_tensor_batch, "empg_terminated"), dtype=bool)
        truncated = np.asarray(_col(non_tensor_batch, "empg_truncated"), dtype=bool)
    group = (
        np.arange(b) if index is None else np.unique(np.asarray(index).astype(str), return_inverse=True)[1]
    )
    entropy = None
    tensors = batch if batch is not None else {}
    tok_ent = next((tensors[k] for k in ("entropy", "entropys") if k in tensors), None)
    if tok_ent is not None:
        e = torch.as_tensor(tok_ent).to(torch.float64)
        entropy = ((e * mask).sum(-1) / mask.sum(-1).clamp(min=1)).numpy()
    elif _col(non_tensor_batch, "empg_entropy") is not None:
        entropy = np.asarray(_col(non_tensor_batch, "empg_entropy"), dtype=np.float64)
    elif need_entropy:
        raise ValueError(
            "EMPG needs per-token entropies: batch['entropy'] from the actor's log-prob pass or "
            "non_tensor_batch['empg_entropy']; verl 0.9.1's trainers do not hand them to the advantage step. "
            "Train through empg-gym's trainer (python -m empg_gym.integrations.verl_trainer ..., or "
            "empg_gym.integrations.verl_trainer.install() in every Ray worker process: docs/scale.md), which "
            "patches compute_advantage and the v1 trainer's _compute_advantage"
        )
    value = None
    if "values" in tensors:  # the critic's value of the state: at the row's first response token
        v = torch.as_tensor(tensors["values"]).to(torch.float64)
        value = v.gather(1, mask.argmax(-1, keepdim=True)).squeeze(1).numpy()
    anchor = _col(non_tensor_batch, "empg_anchor")
    if anchor is not None:
        anchor = np.asarray(anchor, dtype=object)
    return StepBatch(
        traj_id=traj_id.astype(np.int64),
        step=step,
        group_id=group.astype(np.int64).reshape(-1),
        reward=reward,
        terminated=terminated,
        truncated=truncated,
        entropy=entropy,
        value=value,
        anchor=anchor,
    )


def _kwargs_for(name: str) -> dict[str, Any]:
    env = os.environ.get(KWARGS_ENV_VAR)
    if env:
        try:
            parsed = json.loads(env)
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{KWARGS_ENV_VAR} is not valid JSON ({e}); expected "
                '{"<estimator>": {"<hyperparameter>": value}}'
            ) from e
        if not isinstance(parsed, dict) or not all(isinstance(v, dict) for v in parsed.values()):
            raise ValueError(f"{KWARGS_ENV_VAR} must map estimator names to objects of hyperparameters")
        if name in parsed:
            return dict(parsed[name])
    return dict(_KWARGS.get(name, {}))


def verl_estimator(name: str) -> Callable[..., tuple[Any, Any]]:
    """A verl-signature advantage function computing empg-gym estimator ``name`` (module docstring)."""
    est = advantages.get(name)

    def fn(
        token_level_rewards: Any,
        response_mask: Any,
        index: Any = None,
        config: Any = None,
        batch: Mapping[str, Any] | None = None,
        non_tensor_batch: Mapping[str, Any] | None = None,
        **_: Any,
    ) -> tuple[Any, Any]:
        kw = _kwargs_for(name)
        advantages.check_kwargs(name, kw)
        pad = _col(non_tensor_batch, "empg_padding")
        if pad is not None and pad.astype(bool).any():  # verl's synthetic rows: no step, advantage 0
            return _without_rows(fn, pad.astype(bool), token_level_rewards, response_mask, index, config,
                                 batch, non_tensor_batch)
        steps = steps_from_verl(
            token_level_rewards, response_mask, index, batch, non_tensor_batch, need_entropy=name == "empg"
        )
        adv = np.asarray(est(steps, **kw), dtype=np.float64)  # [B] one step per row
        mask = torch.as_tensor(response_mask)
        out = torch.as_tensor(adv, dtype=torch.float32, device=mask.device).unsqueeze(-1) * mask
        return out, out

    fn.__name__ = f"empg_gym_{name}"
    fn.__doc__ = f"empg-gym's {name!r} estimator on verl rows (one row = one agent turn)."
    return fn


def _without_rows(
    fn: Callable[..., tuple[Any, Any]],
    drop: np.ndarray,
    token_level_rewards: Any,
    response_mask: Any,
    index: Any,
    config: Any,
    batch: Mapping[str, Any] | None,
    non_tensor_batch: Mapping[str, Any] | None,
) -> tuple[Any, Any]:
    """``fn`` on the rows not in ``drop``; the dropped rows get advantage 0."""
    mask = torch.as_tensor(response_mask)
    out = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)  # [B, L]
    keep = np.flatnonzero(~drop)
    if keep.size:
        rows = torch.as_tensor(keep, device=mask.device)
        tensors = {k: v[rows] for k, v in (batch if batch is not None else {}).items()
                   if k in ("entropy", "entropys", "values")}
        non = {k: np.asarray(v)[keep] for k, v in (non_tensor_batch or {}).items() if k != "empg_padding"}
        adv, _ = fn(torch.as_tensor(token_level_rewards)[rows], mask[rows],
                    None if index is None else np.asarray(index)[keep], config, tensors, non)
        out[rows] = adv.to(out.dtype)
    return out, out


def register_estimators(estimator_kwargs: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Register every empg-gym estimator with verl's advantage-estimator registry.

    Args:
        estimator_kwargs: Hyperparameters per empg-gym estimator name (``EMPG_GYM_ESTIMATOR_KWARGS``
            overrides).

    Returns:
        The verl names registered (``empg_gym_<name>`` for all, plus bare names verl does not have).
    """
    for k, v in (estimator_kwargs or {}).items():
        advantages.check_kwargs(k, dict(v))
        _KWARGS[k] = dict(v)
    names = []
    for name in advantages.list_estimators():
        fn = verl_estimator(name)
        for verl_name in (f"empg_gym_{name}", name):
            have = core_algos.ADV_ESTIMATOR_REGISTRY.get(verl_name)
            if have is not None and verl_name not in _OURS:
                continue  # verl's own estimator of that name stays
            core_algos.ADV_ESTIMATOR_REGISTRY.pop(verl_name, None)
            core_algos.register_adv_est(verl_name)(fn)
            _OURS[verl_name] = name
            names.append(verl_name)
    return names


def compute_advantage(
    data: Any, adv_estimator: Any, *args: Any, _verl: Callable[..., Any] | None = None, **kwargs: Any
) -> Any:
    """Verl's ``compute_advantage`` step, handing the whole batch to empg-gym estimators.

    ``data`` is a verl ``DataProto``; other estimators go to verl's own function unchanged.
    """
    name = getattr(adv_estimator, "value", adv_estimator)
    if name not in _OURS:
        if _verl is None:
            from verl.trainer.ppo import ray_trainer

            _verl = ray_trainer.compute_advantage
        return _verl(data, adv_estimator, *args, **kwargs)
    if "response_mask" not in data.batch.keys():
        from verl.trainer.ppo.ray_trainer import compute_response_mask

        data.batch["response_mask"] = compute_response_mask(data)
    extra = _STEP_FIELDS.get()
    if extra is not None:
        _attach_step_fields(data, extra)
    fn = core_algos.get_adv_estimator_fn(name)
    adv, ret = fn(
        token_level_rewards=data.batch["token_level_rewards"],
        response_mask=data.batch["response_mask"],
        index=data.non_tensor_batch.get("uid"),
        config=kwargs.get("config"),
        batch=data.batch,
        non_tensor_batch=data.non_tensor_batch,
    )
    data.batch["advantages"] = adv
    data.batch["returns"] = ret
    return data


@contextlib.contextmanager
def trainer_step_fields(fields: Mapping[str, Any]) -> Iterator[None]:
    """Within the block, :func:`compute_advantage` adds ``fields`` to the batch it is given.

    The v1 trainer's advantage step (:mod:`empg_gym.integrations.verl_trainer`) reads the rows' entropies
    and agent-loop fields and calls verl's own step inside this block.

    Args:
        fields: ``rows`` (the batch size they belong to), ``entropy`` (``[B, L]`` token entropies, right-padded
            like the batch's ``response_mask``, or None) and ``non_tensor`` (per-row arrays, ``empg_*``).
    """
    token = _STEP_FIELDS.set(fields)
    try:
        yield
    finally:
        _STEP_FIELDS.reset(token)


def _attach_step_fields(data: Any, fields: Mapping[str, Any]) -> None:
    n, mask = len(data), data.batch["response_mask"]
    if int(fields["rows"]) != n:
        raise ValueError(
            f"the trainer's step fields have {fields['rows']} rows but the advantage batch has {n}: the "
            "advantage step must read both for the same rows, in the same order"
        )
    ent = fields.get("entropy")
    if ent is not None:
        if tuple(ent.shape) != tuple(mask.shape):
            raise ValueError(
                f"token entropies of shape {tuple(ent.shape)} do not line up with response_mask "
                f"{tuple(mask.shape)}; both must be right-padded response tensors of the same rows"
            )
        data.batch["entropy"] = ent.to(device=mask.device, dtype=torch.float32)
    data.non_tensor_batch.update(fields.get("non_tensor") or {})


def patch_trainer() -> None:
    """Route verl's trainer advantage step through :func:`compute_advantage` (``ray_trainer`` and ``v1``)."""
    import importlib

    for mod_name in ("verl.trainer.ppo.ray_trainer", "verl.trainer.ppo.v1.utils"):
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:  # pragma: no cover - a verl without that trainer
            continue
        orig = getattr(mod, "compute_advantage", None)
        if orig is None or getattr(orig, "_empg_gym", False):
            continue

        def patched(data: Any, adv_estimator: Any, *a: Any, _orig: Any = orig, **k: Any) -> Any:
            return compute_advantage(data, adv_estimator, *a, _verl=_orig, **k)

        patched._empg_gym = True  # type: ignore[attr-defined]
        setattr(mod, "compute_advantage", patched)  # noqa: B010 (a module attribute mypy cannot see)


def empg_gym_name(adv_estimator: Any) -> str | None:
    """The empg-gym estimator behind verl's ``algorithm.adv_estimator``; None for verl's own estimators."""
    return _OURS.get(str(getattr(adv_estimator, "value", adv_estimator)))


def install(
    estimator_kwargs: Mapping[str, Mapping[str, Any]] | None = None, *, patch: bool = True
) -> list[str]:
    """Register the estimators and the agent loop with verl, and (``patch``) :func:`patch_trainer`.

    Idempotent. Training also needs the v1 trainer subclasses: ``empg_gym.integrations.verl_trainer.install``
    does both, and is what the launch recipes run in every Ray worker process.
    """
    names = register_estimators(estimator_kwargs)
    _agent_loop._agent_loop_registry[AGENT_LOOP_NAME] = {"_target_": f"{__name__}.EnvAgentLoop"}
    if patch:
        patch_trainer()
    return names


# ----------------------------------------------------------------------------------------------- agent loop
#: ``generate(prompt_ids, sampling_params) -> (response token ids, log-probs or None)``.
Generate = Callable[[list[int], dict[str, Any]], Awaitable[tuple[list[int], list[float] | None]]]


def prompt_of(
    tokenizer: Any,
    history: History,
    *,
    prompt: str = "auto",
    history_length: int = 2,
    response_prefix: str = "",
) -> tuple[str, list[int]]:
    """The prompt text and token ids of a history: empg-gym's template, the tokenizer's chat template."""
    from empg_gym.prompting import get_template

    msgs = get_template(prompt, history.env_id).messages(history, history_length)
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) + response_prefix
    return text, list(tokenizer(text, add_special_tokens=False)["input_ids"])


async def play_episode(
    generate: Generate,
    tokenizer: Any,
    env_id: str,
    *,
    options: Mapping[str, Any] | None = None,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    prompt: str = "auto",
    history_length: int = 2,
    response_prefix: str = "",
    sampling_params: Mapping[str, Any] | None = None,
    group_id: int = 0,
    cap_prompt: Callable[[list[int]], list[int]] | None = None,
) -> tuple[Trajectory, dict[str, float]]:
    """Play one episode of ``env_id`` with responses from ``generate``; the trajectory as ``collect`` has it.

    Args:
        generate: The generation call (verl's server manager, wrapped by :class:`EnvAgentLoop`).
        tokenizer: The policy's tokenizer (with a chat template).
        env_id: Gymnasium ID.
        options: Reset options (``{"task_index": i}``...).
        seed: Reset seed.
        env_kwargs: Env constructor kwargs.
        max_steps: Episode step limit (default: the env's).
        prompt: Prompt template name (``"auto"``: by env).
        history_length: Turns of history in each prompt.
        response_prefix: Text appended to each prompt (the agent spec's ``extra.response_prefix``).
        sampling_params: Passed to ``generate``; the template's stop strings are added.
        group_id: The trajectory's ``group_id``.
        cap_prompt: Applied to each turn's prompt ids (verl's prompt-length cap).

    Returns:
        ``(trajectory, timings)`` with ``generate_s`` and ``env_s``.
    """
    from empg_gym.env_workers import make_env
    from empg_gym.prompting import get_template

    template = None
    params = dict(sampling_params or {})
    loop = asyncio.get_running_loop()
    env = await loop.run_in_executor(None, make_env, env_id, dict(env_kwargs or {}), max_steps, False)
    timings = {"generate_s": 0.0, "env_s": 0.0}
    try:
        t0 = time.perf_counter()
        obs, info = await loop.run_in_executor(
            None, lambda: env.reset(seed=seed, options=dict(options or {}))
        )
        timings["env_s"] += time.perf_counter() - t0
        info = dict(info)
        task, task_id = str(info.get("task", "")), str(info.get("task_id", ""))
        turns: list[Turn] = []
        while True:
            adm = info.get("admissible_actions")
            h = History(
                env_id=env_id,
                task=task,
                turns=tuple(turns),
                observation=obs,
                admissible_actions=None if adm is None else tuple(adm),
                info=info,
            )
            if template is None:
                template = get_template(prompt, env_id)
                stop = list(dict.fromkeys([*template.stop, *params.get("stop", [])]))
                if stop:
                    params.update(stop=stop, include_stop_str_in_output=True)
            ptext, pids = prompt_of(
                tokenizer, h, prompt=prompt, history_length=history_length, response_prefix=response_prefix
            )
            if cap_prompt is not None:
                pids = cap_prompt(pids)
            t0 = time.perf_counter()
            ids, logprobs = await generate(pids, params)
            timings["generate_s"] += time.perf_counter() - t0
            text = tokenizer.decode(ids, skip_special_tokens=True)
            proj = template.parse(response_prefix + text, h)
            action = proj.action if proj.action or not proj.format_valid else text
            t0 = time.perf_counter()
            obs, reward, terminated, truncated, info = await loop.run_in_executor(None, env.step, action)
            timings["env_s"] += time.perf_counter() - t0
            info = dict(info)
            turns.append(
                Turn(
                    observation=h.observation,
                    admissible_actions=h.admissible_actions,
                    prompt=ptext,
                    response=text,
                    prompt_token_ids=tuple(pids),
                    token_ids=tuple(ids),
                    logprobs=tuple(logprobs or ()),
                    action=action,
                    format_valid=bool(proj.format_valid),
                    format_error=str(proj.error),
                    action_valid=bool(info.get("action_valid", True)),
                    reward=float(reward),
                    terminated=bool(terminated),
                    truncated=bool(truncated),
                    info=info,
                )
            )
            if terminated or truncated:
                break
    finally:
        env.close()
    traj = Trajectory(
        env_id=env_id,
        task_id=task_id,
        task=task,
        turns=tuple(turns),
        group_id=group_id,
        seed=seed,
        won=bool(info.get("won", False)),
        score=float(info.get("score", 0.0)),
    )
    return traj, timings


def turn_outputs(
    traj: Trajectory,
    *,
    response_length: int | None = None,
    traj_key: str | None = None,
    timings: Mapping[str, float] | None = None,
) -> list[Any]:
    """One ``AgentLoopOutput`` per turn of ``traj``, with the ``empg_*`` fields the estimators read."""
    key = traj_key or uuid.uuid4().hex
    n = len(traj.turns)
    metrics = AgentLoopMetrics(
        generate_sequences=float((timings or {}).get("generate_s", 0.0)),
        tool_calls=float((timings or {}).get("env_s", 0.0)),
    )
    outs = []
    for t, turn in enumerate(traj.turns):
        ids = list(turn.token_ids)[:response_length]
        lps = list(turn.logprobs)[:response_length] if turn.logprobs else None
        extra = {
            "empg_traj": key,
            "empg_step": t,
            "empg_reward": turn.reward,
            "empg_terminated": turn.terminated,
            "empg_truncated": turn.truncated,
            "empg_anchor": turn.observation,
            "empg_format_valid": turn.format_valid,
            "empg_action_valid": turn.action_valid,
            "empg_won": traj.won,
            "empg_score": traj.score,
            "turn_scores": [],
            "tool_rewards": [],
        }
        last = t == n - 1
        if last:
            extra["reward_extra_info"] = {"won": traj.won, "score": traj.score}
        outs.append(
            AgentLoopOutput(
                prompt_ids=list(turn.prompt_token_ids),
                response_ids=ids,
                response_mask=[1] * len(ids),
                response_logprobs=lps,
                num_turns=2,
                reward_score=traj.total_reward if last else None,
                metrics=metrics,
                extra_fields=extra,
            )
        )
    return outs


def _task_fields(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The episode's fields from a dataset row: top level, or inside ``extra_info`` (verl's convention).

    ``options`` and ``env_kwargs`` may be JSON strings (how :func:`write_dataset` stores them in parquet).
    """
    extra = kwargs.get("extra_info") or {}
    keys = ("env_id", "env_kwargs", "options", "seed", "max_steps", "group_id")
    out = {k: kwargs[k] if k in kwargs else extra.get(k) for k in keys if k in kwargs or k in extra}
    for k in ("options", "env_kwargs"):
        v = out.get(k)
        if isinstance(v, str):
            out[k] = json.loads(v)
    return out


def write_dataset(path: str | os.PathLike, env_id: str, tasks: int | Sequence[Mapping[str, Any]], *,
                  seed: int = 0, env_kwargs: Mapping[str, Any] | None = None) -> int:
    """Write a verl RL dataset (parquet) with one row per task, played by :class:`EnvAgentLoop`.

    Each row has ``data_source`` (the env id), a placeholder ``prompt`` (verl's dataset needs one; the agent
    loop builds the real prompts from the env), ``agent_name`` = ``empg_gym_env`` and ``extra_info`` with the
    env id, the reset options and seed (``seed + row``), as JSON where parquet needs a fixed schema.

    Returns:
        The number of rows.
    """
    import pandas as pd

    from empg_gym.rollout import normalize_tasks

    opts = normalize_tasks(tasks)
    rows = [{"data_source": env_id,
             "prompt": [{"role": "user", "content": f"{env_id} {json.dumps(o, sort_keys=True)}"}],
             "agent_name": AGENT_LOOP_NAME,
             "extra_info": {"env_id": env_id, "options": json.dumps(o, sort_keys=True), "seed": seed + i,
                            "index": i, "env_kwargs": json.dumps(dict(env_kwargs or {}), sort_keys=True)}}
            for i, o in enumerate(opts)]
    pd.DataFrame(rows).to_parquet(path)
    return len(rows)


class EnvAgentLoop(AgentLoopBase):  # type: ignore[misc,valid-type]  # verl's class, or a stand-in without verl
    """verl agent loop playing one ``empg/*`` episode per dataset row (see the module docstring).

    Agent-loop config keys (the entry in ``agent_loop_config_path``) set defaults; a dataset row (top level or
    ``extra_info``) sets ``env_id``, ``options`` (reset options), ``seed`` and may override the rest.

    Args:
        env_id: Gymnasium ID.
        env_kwargs: Env constructor kwargs.
        max_steps: Episode step limit.
        prompt: Prompt template name.
        history_length: Turns of history per prompt.
        response_prefix: Text appended to each prompt.
    """

    def __init__(
        self,
        *args: Any,
        env_id: str | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
        max_steps: int | None = None,
        prompt: str = "auto",
        history_length: int = 2,
        response_prefix: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.defaults = {"env_id": env_id, "env_kwargs": dict(env_kwargs or {}), "max_steps": max_steps}
        self.prompt, self.history_length, self.response_prefix = prompt, history_length, response_prefix
        self.response_length = self.rollout_config.response_length

    async def _generate(self, prompt_ids: list[int], params: dict[str, Any]) -> tuple[list[int], Any]:
        out = await self.server_manager.generate(
            request_id=uuid.uuid4().hex, prompt_ids=prompt_ids, sampling_params=params
        )
        return list(out.token_ids), out.log_probs

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> list[Any]:
        """Play the row's episode; one ``AgentLoopOutput`` per turn."""
        import empg_gym  # noqa: F401  (registers the envs)

        row = _task_fields(kwargs)
        f = {**self.defaults, **row}
        f["env_kwargs"] = {**cast("dict[str, Any]", self.defaults["env_kwargs"] or {}),
                         **(row.get("env_kwargs") or {})}  # the row's win
        if not f.get("env_id"):
            raise ValueError(
                "EnvAgentLoop needs env_id: set it in the agent-loop config or the dataset row's "
                "extra_info (see empg_gym.integrations.verl)"
            )
        traj, timings = await play_episode(
            self._generate,
            self.tokenizer,
            str(f["env_id"]),
            options=f.get("options") or {},
            seed=int(f.get("seed") or 0),
            env_kwargs=f.get("env_kwargs") or {},
            max_steps=f.get("max_steps"),
            prompt=self.prompt,
            history_length=self.history_length,
            response_prefix=self.response_prefix,
            sampling_params=sampling_params,
            group_id=int(f.get("group_id") or 0),
            cap_prompt=self._cap_text_prompt_length,
        )
        return turn_outputs(traj, response_length=self.response_length, timings=timings)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m empg_gym.integrations.verl dataset --env ID --tasks N --out FILE``: a verl dataset."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m empg_gym.integrations.verl", description=main.__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dataset", help="write a parquet of tasks for EnvAgentLoop")
    d.add_argument("--env", required=True, help="env id, e.g. empg/ALFWorld-v0")
    d.add_argument("--tasks", type=int, required=True, help="task_index 0..N-1")
    d.add_argument("--first", type=int, default=0, help="first task_index")
    d.add_argument("--seed", type=int, default=0, help="reset seed of the first row (row i: seed + i)")
    d.add_argument("--env-kwargs", default="{}", help="env constructor kwargs as JSON (e.g. the split)")
    d.add_argument("--out", required=True, help="parquet file to write")
    args = p.parse_args(argv)
    tasks = [{"task_index": args.first + i} for i in range(args.tasks)]
    n = write_dataset(args.out, args.env, tasks, seed=args.seed, env_kwargs=json.loads(args.env_kwargs))
    print(f"{args.out}: {n} rows of {args.env}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

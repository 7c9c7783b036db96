"""The benchmark's start policy: a small from-scratch transformer with an env tokenizer, behaviour-cloned.

Why not ``tiny:qwen2``: its tokenizer is a 512-token BPE trained on a few lines, so an ALFWorld prompt (task,
observation, ~20 admissible actions) is ~650 tokens, and at that length the batched decode loop is bound by
the prefill's attention, not by Python (``benchmarks/decode_speed.py``). A byte-level BPE trained on the env's
own *train-split* prompts (a few thousand merges) shortens every prompt several-fold, which is the cheapest
speed-up there is: prefill attention is quadratic in the prompt length.

The start of one env is built once (deterministic under ``StartSpec.seed``) and shared by every method and
RL seed of that env, so each method starts from the same weights:

1. Tokenizer: ``tokenizer_episodes`` expert episodes on the train split; every prompt (rendered with the
   same template and history length as training) and response trains a byte-level BPE of ``vocab_size``
   with ChatML special tokens and template (any text still encodes: the 256 bytes are in the alphabet).
2. Model: a Qwen2/Llama config of ``num_layers`` x ``hidden_size`` (tied embeddings), seeded.
3. Behaviour cloning (:func:`empg_gym.trainers.sft.behaviour_clone`): a noisy expert on the train split
   (expert action with probability ``expert_prob``, else a random admissible one), ``bc_rounds`` rounds of
   ``bc_steps`` AdamW steps, each round on a fresh draw of demonstrations (seed ``seed + round`` from the
   second round on) with a fresh optimizer (with ``bc_fresh_tasks``, on the next ``bc_tasks`` train tasks
   each round); each finished round is saved, so a killed build resumes.
4. Saved as a Hugging Face folder (weights, tokenizer, ``agent.yaml`` with the run's sampling settings,
   ``start.json`` with the BC statistics and wall time), written to a temporary folder and renamed into
   place, so ``empg-eval --agent <folder>`` and ``empg-train --model <folder>`` both work on it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from empg_gym._io import write_json_atomic
from empg_gym.bench.suite import StartSpec

__all__ = ["build_start", "env_tokenizer", "start_agent_spec"]


def env_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """A byte-level BPE with ChatML special tokens and chat template, trained on ``texts``.

    Args:
        texts: Training text (prompts and responses).
        vocab_size: Target vocabulary size.

    Returns:
        A ``PreTrainedTokenizerFast`` (left padding; ``<|endoftext|>`` pads, ``<|im_end|>`` ends).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from empg_gym.policy.tiny import CHATML_TEMPLATE

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.padding_side = "left"
    return fast


#: The RL ``train`` fields :func:`build_start` reads (besides ``env_kwargs`` when the start has none of its own, and
#: the fields of :func:`start_agent_spec`); a results folder reuses a start while these stay the same.
START_TRAIN_FIELDS = ("max_steps", "prompt", "history_length", "response_prefix")


def start_agent_spec(train: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``agent.yaml`` of a start folder: the agent the RL runs train (so its eval is comparable).

    It is :meth:`TrainConfig.agent_spec` of ``train`` (sampling, prompt, history, ``action_mode``,
    ``response_prefix``, device), written as a checkpoint's: ``model`` is left empty for the loader to fill in.
    """
    import dataclasses

    from empg_gym.trainers.config import TrainConfig

    known = {f.name for f in dataclasses.fields(TrainConfig)}
    spec = TrainConfig(**{k: v for k, v in train.items() if k in known}).agent_spec().replace(name=name)
    return {**spec.to_dict(), "model": None}


def _corpus(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    max_steps: int | None,
    episodes: int,
    prompt: str,
    history_length: int,
    think: str,
    seed: int,
) -> list[str]:
    from empg_gym.prompting import format_response, get_template
    from empg_gym.rollout import collect
    from empg_gym.trainers.sft import NoisyExpert

    demo = NoisyExpert(1.0, seed)
    collect(
        demo,
        env_id,
        tasks=[{"task_index": i} for i in range(episodes)],
        seed=seed + 7919,
        env_kwargs=env_kwargs,
        max_steps=max_steps,
        progress=False,
    )
    texts = []
    for h, a in demo.pairs:
        msgs = get_template(prompt, h.env_id).messages(h, history_length)
        body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in msgs)
        texts.append(body + f"<|im_start|>assistant\n{format_response(a, think)}<|im_end|>")
    return texts


def build_start(
    out: str | os.PathLike, env_id: str, train: Mapping[str, Any], spec: StartSpec, *, name: str
) -> Path:
    """Build, behaviour-clone and save the start policy of one env into ``out`` (skipped if complete).

    Args:
        out: Target folder (written atomically; an existing complete folder is returned as is).
        env_id: The env.
        train: The env's merged TrainConfig fields (``env_kwargs``, ``max_steps``, ``task_pool``, ``prompt``,
            ``history_length``, sampling settings).
        spec: Model, tokenizer and BC settings.
        name: Agent name written to ``agent.yaml``.

    Returns:
        The folder.
    """
    import torch
    import transformers

    from empg_gym.trainers.sft import behaviour_clone

    out = Path(out)
    if (out / "start.json").is_file():
        return out
    t0 = time.perf_counter()
    env_kwargs = dict(train.get("env_kwargs", {}) if spec.env_kwargs is None else spec.env_kwargs)
    max_steps = train.get("max_steps")
    prompt = str(train.get("prompt", "auto"))
    hist = int(train.get("history_length", 2))
    texts = _corpus(
        env_id, env_kwargs, max_steps, spec.tokenizer_episodes, prompt, hist, spec.think, spec.seed
    )
    tok = env_tokenizer(texts, spec.vocab_size)
    common = dict(
        vocab_size=len(tok),
        hidden_size=spec.hidden_size,
        intermediate_size=4 * spec.hidden_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
    )
    if spec.arch == "qwen2":
        config: Any = transformers.Qwen2Config(**common)
        cls: Any = transformers.Qwen2ForCausalLM
    else:
        config = transformers.LlamaConfig(**common)
        cls = transformers.LlamaForCausalLM
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        model = cls(config).float()
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    t1 = time.perf_counter()
    if spec.bc_steps > 0:
        from safetensors.torch import load_model, save_model

        rounds_dir = out.with_name(f".{out.name}.rounds")  # finished rounds: a killed build resumes from them
        done = 0
        while (rounds_dir / f"round_{done + 1}.safetensors").is_file():
            done += 1
        if done:
            load_model(model, str(rounds_dir / f"round_{done}.safetensors"))
        per_round = json.loads((rounds_dir / "stats.json").read_text()) if done else []
        per_round = per_round[:done]
        for r in range(done + 1, spec.bc_rounds + 1):
            offset = (r - 1) * spec.bc_tasks if spec.bc_fresh_tasks else 0
            try:
                stats = behaviour_clone(
                    model,
                    tok,
                    env_id,
                    episodes=spec.bc_episodes,
                    env_kwargs=env_kwargs,
                    max_steps=max_steps,
                    expert_prob=spec.expert_prob,
                    think=spec.think,
                    steps=spec.bc_steps,
                    batch_size=spec.bc_batch_size,
                    lr=spec.bc_lr,
                    seed=spec.seed + (r if r > 1 else 0),  # round r > 1: a fresh draw of demonstrations
                    prompt=prompt,
                    history_length=hist,
                    num_tasks=spec.bc_tasks,
                    task_offset=offset,
                    response_prefix=str(train.get("response_prefix", "")),
                    prompt_loss_weight=spec.bc_prompt_loss,
                )
            except ValueError as e:
                if not (spec.bc_fresh_tasks and "task_index" in str(e)):
                    raise
                raise ValueError(
                    f"bc_fresh_tasks: BC round {r} of {spec.bc_rounds} clones on train tasks {offset}.."
                    f"{offset + spec.bc_tasks - 1}, which this env does not have ({e}); lower bc_rounds or bc_tasks"
                ) from None
            per_round.append(stats)
            if r < spec.bc_rounds:
                rounds_dir.mkdir(parents=True, exist_ok=True)
                save_model(model, str(rounds_dir / f".round_{r}.tmp"))  # handles the tied output layer
                write_json_atomic(rounds_dir / "stats.json", per_round)
                os.replace(rounds_dir / f".round_{r}.tmp", rounds_dir / f"round_{r}.safetensors")
        summary: dict[str, Any] = {**per_round[-1], "first_loss": per_round[0]["first_loss"], "rounds": per_round}
    else:  # an untrained model with the env tokenizer (cost measurements: every episode runs to the limit)
        summary = {"first_loss": float("nan"), "last_loss": float("nan"), "turns": 0}
    t2 = time.perf_counter()
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    import yaml

    (tmp / "agent.yaml").write_text(yaml.safe_dump(start_agent_spec(train, name), sort_keys=False))
    lens = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts[:200]]
    info = {
        "env_id": env_id,
        "spec": {k: getattr(spec, k) for k in spec.__dataclass_fields__},
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "vocab": len(tok),
        "bc": summary,
        "mean_tokens_per_demo_turn": float(sum(lens) / max(len(lens), 1)),
        "chars_per_token": float(sum(len(t) for t in texts[:200]) / max(sum(lens), 1)),
        "time_tokenizer_s": t1 - t0,
        "time_bc_s": t2 - t1,
    }
    (tmp / "start.json").write_text(json.dumps(info, indent=1))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # an incomplete earlier attempt
        shutil.rmtree(out)
    os.replace(tmp, out)
    shutil.rmtree(out.with_name(f".{out.name}.rounds"), ignore_errors=True)
    return out

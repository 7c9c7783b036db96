"""Tiny randomly initialised causal LMs with an offline-built tokenizer, for tests and smoke runs.

Nothing is downloaded: the tokenizer is a byte-level BPE (so any text encodes, nothing is unknown) trained
in a few milliseconds on a small built-in corpus of agent-prompt words, with ChatML special tokens and a
ChatML chat template; the model is a Qwen2 or Llama config with two layers and hidden size 64, randomly
initialised from ``seed`` (without touching the global torch RNG). Model and tokenizer are built in well
under a second and behave like a real pair (``apply_chat_template``, ``save_pretrained``, peft LoRA).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from empg_gym._optional import require

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

__all__ = ["CHATML_TEMPLATE", "tiny_model_and_tokenizer", "tiny_tokenizer"]

#: A ChatML chat template (the format of Qwen2 and SmolLM2).
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = """You are an expert agent. Your task is to: find the key and open the locked door in the red room.
You are in the blue room. Exits: north, south, east, west.
go north go south go east go west take key open door
Guess the hidden integer between 1 and 16. Say 'guess K'.
guess 1 guess 2 guess 8 guess 12 higher lower correct
<think> I should search for the item first. </think> <action> search[red shirt] </action> click[buy now]
<search> who wrote the book </search> <information> Doc 1 (Title: Book) </information>
<answer> Paris </answer>
Your admissible actions of the current situation are: Observation Action step history previous current.
Prior to this step, you have already taken 3 steps. Below are the most recent observations and actions.
Now it's your turn to take an action. You should first reason step-by-step about the current situation.
put the apple in the fridge, heat some egg and put it in the countertop. cabinet drawer sink microwave.
Invalid action. The number is lower. The number is higher. 0 1 2 3 4 5 6 7 8 9 , . ' " : ; [ ] ( ) < > / ?
"""


def tiny_tokenizer(vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with ChatML special tokens and chat template, trained offline.

    Args:
        vocab_size: Target vocabulary size (at least the 256 bytes plus the special tokens).

    Returns:
        A fast tokenizer; ``pad_token`` is ``<|endoftext|>``, ``eos_token`` is ``<|im_end|>``.
    """
    require("transformers", why="tiny models")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=_SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS.splitlines(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=None, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None,
                                   additional_special_tokens=["<|im_start|>"])
    fast.chat_template = CHATML_TEMPLATE
    fast.padding_side = "left"
    return fast


def tiny_model_and_tokenizer(
    seed: int = 0, arch: str = "qwen2", *, hidden_size: int = 64, num_layers: int = 2, vocab_size: int = 512
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """A randomly initialised tiny causal LM and its tokenizer (float32, CPU, eval mode).

    Args:
        seed: Seed of the weights (a private RNG; the global torch RNG is untouched).
        arch: ``"qwen2"`` or ``"llama"``.
        hidden_size: Width.
        num_layers: Depth.
        vocab_size: Target tokenizer vocabulary size.

    Returns:
        ``(model, tokenizer)``.
    """
    torch = require("torch", why="tiny models")
    import transformers

    tok = tiny_tokenizer(vocab_size)
    common = dict(vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                  num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=8192, tie_word_embeddings=True,
                  eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
    config: Any
    cls: Any
    if arch == "qwen2":
        config = transformers.Qwen2Config(**common)
        cls = transformers.Qwen2ForCausalLM
    elif arch == "llama":
        config = transformers.LlamaConfig(**common)
        cls = transformers.LlamaForCausalLM
    else:
        raise ValueError(f"arch must be 'qwen2' or 'llama', got {arch!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return model.float().eval(), tok

"""Shared helpers for the env-contract tests (used by every env's tests)."""

from __future__ import annotations

import numpy as np

#: Actions that no env may accept as valid.
GARBAGE: list = [
    "",
    " ",
    "\n\t\r",
    "\x00\x01\x02\x1b[31m",
    "\u200b\u202e\ufeff",
    "🙂" * 50,
    "漢字のテスト",
    "x" * 100_000,
    "a\x00b",
    "]]]][[[[",
    "<action></action>",
    "DROP TABLE users; --",
    "%s%s%s%n",
    None,
    42,
    3.5,
    b"bytes",
    ["go north"],
    {"action": "x"},
]

_ALPHABET = np.array(
    list("abcdefghijklmnopqrstuvwxyz [](){}<>0123456789_-.,;:!?'\"\\/\n\t\x00\x7f") + ["é", "漢", "🙂"])


def random_actions(env, rng: np.random.Generator, n: int, admissible: list[str] | None) -> list:
    """A mix of admissible actions, their near misses, random strings and garbage."""
    out: list = []
    for _ in range(n):
        kind = rng.integers(6)
        if kind == 0 and admissible:
            out.append(admissible[rng.integers(len(admissible))])
        elif kind == 1 and admissible:
            a = admissible[rng.integers(len(admissible))]
            i = int(rng.integers(max(len(a), 1)))
            out.append(a[:i] + a[i + 1 :] if rng.random() < 0.5 else a[:i] + "Z" + a[i:])  # near miss
        elif kind == 2:
            out.append("".join(rng.choice(_ALPHABET, size=int(rng.integers(0, 40)))))
        elif kind == 3:
            out.append(env.action_space.sample())
        elif kind == 4:
            out.append(GARBAGE[rng.integers(len(GARBAGE))])
        else:
            out.append(" ".join(rng.choice(["go", "take", "open", "guess", "search", "click", "answer", "[", "]", "7"],
                                           size=int(rng.integers(1, 5)))))
    return out


def fuzz(env, n_steps: int, seed: int = 0) -> dict[str, int]:
    """Step ``env`` with ``n_steps`` random and garbage actions; check the contract on every step."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    counts = {"valid": 0, "invalid": 0, "episodes": 1}
    actions: list = []
    for i in range(n_steps):
        if not actions:
            actions = random_actions(env, rng, 64, info.get("admissible_actions"))
        a = actions.pop()
        obs, reward, terminated, truncated, info = env.step(a)
        assert isinstance(obs, str) and env.observation_space.contains(obs), f"obs outside the space after {a!r}"
        assert isinstance(reward, float)
        for k in ("task", "task_id", "admissible_actions", "action_valid", "won", "score"):
            assert k in info, f"info lacks {k!r}"
        assert 0.0 <= info["score"] <= 1.0
        if not isinstance(a, str) or a in GARBAGE:
            assert info["action_valid"] is False, f"garbage action {a!r} was accepted"
        if info["action_valid"]:
            counts["valid"] += 1
        else:
            counts["invalid"] += 1
            assert info.get("message"), f"invalid action {a!r} came back without a message"
        if terminated or truncated:
            obs, info = env.reset(seed=seed + i + 1)
            counts["episodes"] += 1
            actions = []
    return counts


def trajectory(env, seed: int, n_steps: int = 30) -> list:
    """Play admissible (or expert-free random) actions chosen by a seeded RNG; return everything seen."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    out: list = [obs, info]
    for _ in range(n_steps):
        adm = info.get("admissible_actions") or ["look"]
        a = adm[rng.integers(len(adm))]
        obs, reward, terminated, truncated, info = env.step(a)
        out.append((a, obs, reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return out

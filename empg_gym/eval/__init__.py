"""Evaluation: the harness (``empg-eval``), metrics with CIs, paired comparisons, leaderboard entries.

- :mod:`empg_gym.eval.harness`: run an agent on a documented task list, resumable, writing an entry;
- :mod:`empg_gym.eval.metrics`: per-episode records -> metrics with 95% bootstrap CIs;
- :mod:`empg_gym.eval.compare`: paired bootstrap differences and McNemar's exact test;
- :mod:`empg_gym.eval.tasks`: the fixed task lists and the task-list hash;
- :mod:`empg_gym.eval.schema`: the entry JSON schema and validation;
- :mod:`empg_gym.eval.leaderboard`: ``LEADERBOARD.md``, the static page, the flask server.

Nothing here imports torch; the harness imports a backend only when the agent spec names one.
"""

"""The credit-assignment benchmark (``empg-bench``; docs/benchmark.md).

- :mod:`empg_gym.bench.suite`: suite YAML files (envs, methods, seeds, shared hyperparameters, start, evals).
- :mod:`empg_gym.bench.start`: the common start policy (env tokenizer, small transformer, behaviour cloning).
- :mod:`empg_gym.bench.runner`: every (env, method, seed) run through the trainer and ``empg-eval``,
  resumable at the run level.
- :mod:`empg_gym.bench.report`: tables (mean with 95% CI over seeds, IQM, paired differences vs the
  baseline) and learning curves, from saved results only.
"""

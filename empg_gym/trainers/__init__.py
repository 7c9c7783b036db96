"""Training: one policy-gradient loop shared by every estimator (:mod:`.pg`), PPO with a critic (:mod:`.ppo`).

Nothing here is imported by ``import empg_gym``; torch and transformers load only when a trainer runs.
See ``docs/training.md``.
"""

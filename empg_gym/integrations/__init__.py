"""Adapters that plug empg-gym into other training frameworks (each behind its own extra).

- :mod:`empg_gym.integrations.verl`: empg-gym's advantage estimators in verl's estimator registry, and a verl
  agent loop that plays any ``empg/*`` env (extra ``verl``).
"""

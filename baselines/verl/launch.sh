#!/usr/bin/env bash
# GRPO vs GRPO+EMPG on ALFWorld / WebShop with verl 0.9.1 (v1 trainer, vLLM rollout, FSDP actor).
#
#   baselines/verl/launch.sh ENV METHOD MODEL [NNODES]
#     ENV     alfworld | webshop
#     METHOD  grpo | empg          (empg = GRPO base + EMPG, EMPG.md defaults k = k' = 1, zeta = 0.1)
#     MODEL   1.5b | 7b            (Qwen2.5-{1.5B,7B}-Instruct under $MODELS, default /models)
#     NNODES  1 (default: 8 GPUs) | 4 (32 GPUs; start the Ray cluster first, see README.md)
#
# Protocol (EMPG.md, verl-agent/GiGPO settings): 16 groups x 8 episodes per iteration, lr 1e-6, KL 0.01,
# temperature 1, 512 response tokens per turn, history 2, 50 (ALFWorld) / 15 (WebShop) turns, 150 iterations.
# Data: python -m empg_gym.integrations.verl dataset ... (README.md). Needs GPUs; not run on the project's CPU.
#
# Runs verl's main_ppo through empg_gym.integrations.verl_trainer, which installs empg-gym in every Ray worker
# process (the hook below): the estimators, the agent loop, and the v1 trainer whose advantage step also
# reads the actor's token entropies and the agent loop's per-turn fields. Both methods need it: without the
# per-turn fields every turn would count as a one-step episode, and EMPG stops for want of entropies.
# Extra arguments go to Hydra (e.g. --cfg job prints the composed config and trains nothing).
set -euo pipefail
ENV=${1:?alfworld|webshop}; METHOD=${2:?grpo|empg}; MODEL=${3:?1.5b|7b}; NNODES=${4:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${DATA:-$HOME/data/empg-gym}
case $MODEL in
  1.5b) MODEL_PATH=${MODELS:-/models}/Qwen2.5-1.5B-Instruct; TP=1 ;;
  7b)   MODEL_PATH=${MODELS:-/models}/Qwen2.5-7B-Instruct;   TP=2 ;;
  *) echo "MODEL must be 1.5b or 7b" >&2; exit 2 ;;
esac
case $METHOD in
  grpo) ADV=empg_gym_grpo ;;   # empg-gym's GRPO (verl-agent conventions), the base EMPG modulates
  empg) ADV=empg ;;
  *) echo "METHOD must be grpo or empg" >&2; exit 2 ;;
esac
# Estimator hyperparameters reach the trainer's Ray workers through the environment (set it on every node
# before `ray start` in a multi-node run).
export EMPG_GYM_ESTIMATOR_KWARGS=${EMPG_GYM_ESTIMATOR_KWARGS:-'{"empg": {"base": "grpo", "k": 1.0, "k_next": 1.0, "zeta": 0.1, "final_norm": "mean"}}'}

python -m empg_gym.integrations.verl_trainer \
  trainer.use_v1=true \
  algorithm.adv_estimator=$ADV \
  data.train_files=$DATA/${ENV}_train.parquet \
  data.val_files=$DATA/${ENV}_test.parquet \
  data.train_batch_size=16 \
  data.max_prompt_length=4096 \
  data.max_response_length=512 \
  actor_rollout_ref.model.path=$MODEL_PATH \
  actor_rollout_ref.actor.optim.lr=1e-6 \
  actor_rollout_ref.actor.ppo_mini_batch_size=16 \
  actor_rollout_ref.actor.use_kl_loss=true \
  actor_rollout_ref.actor.kl_loss_coef=0.01 \
  actor_rollout_ref.actor.entropy_coeff=0 \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.rollout.temperature=1.0 \
  actor_rollout_ref.rollout.tensor_model_parallel_size=$TP \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
  actor_rollout_ref.rollout.agent.default_agent_loop=empg_gym_env \
  actor_rollout_ref.rollout.agent.agent_loop_config_path=$HERE/agent_loop_${ENV}.yaml \
  +ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=empg_gym.integrations.verl_trainer.install \
  trainer.nnodes=$NNODES \
  trainer.n_gpus_per_node=8 \
  trainer.total_training_steps=150 \
  trainer.save_freq=10 \
  trainer.test_freq=10 \
  trainer.project_name=empg-gym \
  trainer.experiment_name=${ENV}_${METHOD}_qwen2.5-${MODEL}_${NNODES}node \
  "${@:5}"

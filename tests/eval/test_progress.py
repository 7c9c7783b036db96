from empg_gym.eval.metrics import episode_record
from empg_gym.eval.progress import RunProgress
from empg_gym.types import Trajectory, Turn


def _rec(won: bool, n_tokens: int) -> dict:
    traj = Trajectory(env_id="e", task_id="t", task="t", won=won,
                      turns=(Turn(observation="o", token_ids=tuple(range(n_tokens))),))
    return episode_record(traj, episode=0, seed=0, task_position=0)


def test_run_progress_counts_resumed_and_new_episodes():
    bar = RunProgress(10, done=4, wins=1, enabled=False)
    bar.advance(_rec(True, 5))
    bar.advance(_rec(False, 7))
    assert (bar.done, bar.new, bar.wins, bar.tokens) == (6, 2, 2, 12)
    assert "success 33.3%" in bar._stats()  # 2 of 6, resumed episodes included
    bar.close()

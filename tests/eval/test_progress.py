from empg_gym.eval.progress import RunProgress
from empg_gym.types import Trajectory, Turn


def _traj(won: bool, n_tokens: int) -> Trajectory:
    return Trajectory(env_id="e", task_id="t", task="t", won=won,
                      turns=(Turn(observation="o", token_ids=tuple(range(n_tokens))),))


def test_run_progress_counts_resumed_and_new_episodes():
    bar = RunProgress(10, done=4, wins=1, enabled=False)
    bar.advance(_traj(True, 5))
    bar.advance(_traj(False, 7))
    assert (bar.done, bar.new, bar.wins, bar.tokens) == (6, 2, 2, 12)
    assert "success 33.3%" in bar._stats()  # 2 of 6, resumed episodes included
    bar.close()

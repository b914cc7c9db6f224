"""The simulator's task plan (tests/sim/rootfs/client/waa_sim_plan.py): a fixed task time split over the steps."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim" / "rootfs" / "client"))
import waa_sim_plan  # noqa: E402

PAINT = "409f0043-6c4a-5eba-88f1-9940648d32f9-WOS"  # 3 steps
NOTEPAD = "aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"  # 2 steps


def test_a_fixed_task_time_makes_every_task_last_as_long(monkeypatch):
    monkeypatch.setenv("WAA_SIM_TASK_SECONDS", "6")
    monkeypatch.setenv("WAA_SIM_STEP_SECONDS", "100")  # the task's time wins
    assert waa_sim_plan.step_seconds(PAINT) * waa_sim_plan.num_steps(PAINT) == 6
    assert waa_sim_plan.step_seconds(NOTEPAD) * waa_sim_plan.num_steps(NOTEPAD) == 6
    monkeypatch.delenv("WAA_SIM_TASK_SECONDS")
    assert waa_sim_plan.step_seconds(PAINT) == 100
    monkeypatch.delenv("WAA_SIM_STEP_SECONDS")
    assert waa_sim_plan.step_seconds(PAINT) == 0.3

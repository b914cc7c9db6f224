"""Simulator only (not in the real client): what happens in each task, decided by its id.

Every outcome is deterministic, so tests can predict each task's steps, score and result.txt.
The six tasks of test_small.json are pinned (see evaluation_examples_windows/generate_examples.py);
every other task gets an outcome from a hash of its id. Exactly one task of test_all.json
raises (chrome #3, the third task of test_small.json), like a task whose VM stopped answering.
Knobs: WAA_SIM_STEP_SECONDS (agent "thinking" time per step, default 0.3), WAA_SIM_TASK_SECONDS
(instead, the thinking time of a whole task, split over its steps: every task lasts as long), and
WAA_SIM_RAISE_TASKS (comma-separated ids that raise instead; empty string: none), and
WAA_SIM_MODEL_ECHO (text the agent's "model" appends to its first action, "\\n" for a newline:
model output that the client logs verbatim).
"""
import hashlib
import os

DEFAULT_RAISE = "048f01dc-d108-598e-beaf-dfd031cefd78-WOS"

# id -> (evaluator return value, number of steps). The return value's Python type decides how
# result.txt looks: 1 -> "1", 1.0 -> "1.0", True -> "True", 0.0 -> "0.0", 0.5 -> "0.5".
PINNED = {
    "409f0043-6c4a-5eba-88f1-9940648d32f9-WOS": (1, 3),       # microsoft_paint: pass, "1"
    "aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS": (True, 2),    # notepad: pass, "True"
    "048f01dc-d108-598e-beaf-dfd031cefd78-WOS": (0.0, 3),     # chrome: raises at step 2
    "010d2406-2406-5463-9960-10d4eb0bcd89-WOS": (0.0, 2),     # settings: fail, "0.0"
    "8b950e3e-acbf-5a37-a9d1-d1ec7283d618-WOS": (0.5, 3),     # vlc: partial, "0.5"
    "e80b1cd3-03d9-52fe-8f74-bac1d3ec3128-WOS": (1.0, 2),     # clock: pass, "1.0"
}
HASHED = [1, 1.0, True, 0.0, 0, False, 0.5, 1.0]


def step_seconds(example_id=""):
    task = os.environ.get("WAA_SIM_TASK_SECONDS", "").strip()
    if task:
        return float(task) / num_steps(example_id)
    value = os.environ.get("WAA_SIM_STEP_SECONDS", "").strip()
    return float(value) if value else 0.3


def raises(example_id):
    value = os.environ.get("WAA_SIM_RAISE_TASKS")
    ids = DEFAULT_RAISE if value is None else value
    return example_id in [x.strip() for x in ids.split(",") if x.strip()]


def _digest(example_id):
    return int(hashlib.sha256(example_id.encode()).hexdigest()[:8], 16)


def score(example_id):
    if example_id in PINNED:
        return PINNED[example_id][0]
    return HASHED[_digest(example_id) % len(HASHED)]


def num_steps(example_id):
    if example_id in PINNED:
        return PINNED[example_id][1]
    return 1 + _digest(example_id) // 8 % 4

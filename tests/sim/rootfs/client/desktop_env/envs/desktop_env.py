"""DesktopEnv: reset, step and evaluate against the WAA server (screenshots and the
accessibility tree come from the simulator's server; actions run through /execute)."""
import logging
import time

import waa_sim_plan
from desktop_env.controllers.python import PythonController
from desktop_env.evaluators.getters.file import get_vm_file
from desktop_env.evaluators.metrics.general import check_image_contents

logger = logging.getLogger("desktopenv.env")


class DesktopEnv:
    def __init__(self, action_space="code_block", screen_size=(1920, 1080), headless=False, require_a11y_tree=True,
                 emulator_ip="20.20.20.21", a11y_backend="uia"):
        self.action_space = action_space
        self.require_a11y_tree = require_a11y_tree
        self.a11y_backend = a11y_backend
        self.controller = PythonController(vm_ip=emulator_ip)
        self.task = None
        self._step_no = 0

    def _get_obs(self):
        obs = {"screenshot": self.controller.get_screenshot()}
        if self.require_a11y_tree:
            obs["accessibility_tree"] = self.controller.get_accessibility_tree(self.a11y_backend)
        obs["window_title"] = "Program Manager"
        return obs

    def reset(self, task_config=None, seed=None, options=None):
        logger.info("Resetting environment...")
        self.task = task_config or {}
        self._step_no = 0
        logger.info("Setting up environment...")
        obs = self._get_obs()
        logger.info("Environment setup complete.")
        return obs

    def step(self, action, pause=0.5):
        self._step_no += 1
        example_id = (self.task or {}).get("id", "")
        if waa_sim_plan.raises(example_id) and self._step_no >= 2:
            self.controller.read_timeout("/execute")
        done = False
        if action == "WAIT":
            time.sleep(min(pause, 0.2))
        elif action in ("DONE", "FAIL"):
            done = True
        else:
            self.controller.execute_python_command(action)
        return self._get_obs(), 0, done, {"done": done, "fail": action == "FAIL"}

    def evaluate(self):
        example_id = (self.task or {}).get("id", "")
        get_vm_file(self, (self.task or {}).get("evaluator", {}).get("result", {}))
        check_image_contents((self.task or {}).get("domain"))
        return waa_sim_plan.score(example_id)

    def close(self):
        pass

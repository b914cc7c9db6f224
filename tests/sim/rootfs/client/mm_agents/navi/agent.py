"""The Navi agent, simulated: no model is called. predict() waits WAA_SIM_STEP_SECONDS (the
model's latency; or WAA_SIM_TASK_SECONDS split over the task's steps) and returns the task's next scripted action, multi-line Python as the real
agent writes it, then WAIT/DONE/FAIL."""
import logging
import os
import time

import waa_sim_plan

logger = logging.getLogger("desktopenv.agent")


class NaviAgent:
    action_space = "code_block"

    def __init__(self, server="oai", model="gpt-4o", som_config=None, som_origin="oss", temperature=1.0):
        self.model = model
        self.som_origin = som_origin
        self.example_id = None
        self.step = 0

    def reset(self, example_id=None):
        self.example_id = example_id
        self.step = 0

    def predict(self, instruction, obs):
        time.sleep(waa_sim_plan.step_seconds(self.example_id or ""))
        self.step += 1
        total = waa_sim_plan.num_steps(self.example_id or "")
        x, y = 200 + 37 * self.step, 150 + 23 * self.step
        if self.step >= total:
            action = "DONE" if waa_sim_plan.score(self.example_id or "") else "FAIL"
        elif self.step == 2 and total >= 4:
            action = "WAIT"
        else:
            action = ("import pyautogui\n"
                      "pyautogui.moveTo({x}, {y})\n"
                      "pyautogui.click()\n"
                      "pyautogui.write('step {n}')").format(x=x, y=y, n=self.step)
        echo = os.environ.get("WAA_SIM_MODEL_ECHO")
        if echo and self.step == 1:
            # A model that echoes text (a task list, a web page) into its code: the client logs the
            # action as it is, so these lines reach its output verbatim.
            action = action + "\n" + echo.replace("\\n", "\n")
        response = "I will act on the screen for step %d of: %s" % (self.step, instruction)
        logs = {"plan_result": response}
        return response, [action], logs, None

"""Writes traj.jsonl, traj.html and each observation's files (screenshot-step_<i>_<time>.png,
accessibility_tree-step_<i>_<time>.txt) into the task's result directory, as WAA's recorder does."""
import datetime
import html as html_lib
import json
import os


class TrajectoryRecorder:
    def __init__(self, result_dir):
        self.result_dir = result_dir

    def save_dict(self, info_dict, step_idx, action_timestamp):
        file_format = "{key}-step_{step_idx}_{action_timestamp}.{ext}"
        saved = {}
        for key, value in info_dict.items():
            if key in ("accessibility_tree", "plan_result"):
                name = file_format.format(key=key, step_idx=step_idx, action_timestamp=action_timestamp, ext="txt")
                with open(os.path.join(self.result_dir, name), "w") as f:
                    f.write(value if value else "No data available")
                saved[key] = name
            elif isinstance(value, bytes):
                name = file_format.format(key=key, step_idx=step_idx, action_timestamp=action_timestamp, ext="png")
                with open(os.path.join(self.result_dir, name), "wb") as f:
                    f.write(value)
                saved[key] = name
            else:
                saved[key] = value
        return saved

    def record_init(self, obs, example, init_timestamp):
        init_dict = self.save_dict(obs, "reset", init_timestamp)
        with open(os.path.join(self.result_dir, "traj.jsonl"), "a") as f:
            data = {"step_num": 0, "action_timestamp": init_timestamp, "action": None}
            data.update(init_dict)
            json.dump(data, f)
            f.write("\n")
        with open(os.path.join(self.result_dir, "traj.html"), "a") as f:
            f.write("<details><summary>config</summary><pre>\n%s\n</pre></details>" % html_lib.escape(json.dumps(example, indent=2)))
            f.write("<pre>\n%s\n</pre>" % html_lib.escape(example["instruction"]))
            if init_dict.get("screenshot"):
                f.write("<img style='max-width: 100%%' src='%s'/>" % init_dict["screenshot"])

    def record_step(self, obs, logs, step_idx, action_timestamp, elapsed_timestamp, action, reward, done, info):
        obs_saved = self.save_dict(obs, step_idx, action_timestamp) if obs else {}
        logs_saved = self.save_dict(logs, step_idx, action_timestamp) if logs else {}
        with open(os.path.join(self.result_dir, "traj.jsonl"), "a") as f:
            data = {"step_num": step_idx + 1, "action_timestamp": action_timestamp, "action": action,
                    "reward": reward, "done": done, "info": info}
            data.update(obs_saved)
            data.update(logs_saved)
            json.dump(data, f)
            f.write("\n")
        with open(os.path.join(self.result_dir, "traj.html"), "a") as f:
            f.write("<h3>Step %d (%s)</h3>" % (step_idx + 1, elapsed_timestamp))
            f.write("<pre>\n%s\n</pre>" % html_lib.escape(action))
            if obs_saved.get("screenshot"):
                f.write("<img style='max-width: 100%%' src='%s'/>" % obs_saved["screenshot"])
            else:
                f.write("<pre>No image</pre>")

    def record_end(self, result, start_time):
        with open(os.path.join(self.result_dir, "traj.html"), "a") as f:
            f.write("<h1>Result: %s</h1>" % result)
            f.write("<h1>Elapsed Time: %s</h1>" % (datetime.datetime.now() - start_time))

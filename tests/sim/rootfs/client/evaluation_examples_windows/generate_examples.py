"""Simulator only: writes test_all.json, test_small.json and one config per task under
examples/<domain>/<id>.json, the layout of WAA's evaluation_examples_windows.

The real benchmark has 154 tasks in 12 domains; the ids here are made up (uuid5 + "-WOS", the
shape of the real ones) but the domains and per-domain counts are the real ones. The image build
runs this once; `python3 generate_examples.py --check` verifies the committed task lists.
"""
import json
import os
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
NAMESPACE = uuid.UUID("6b0f4a52-3c1e-4f57-9c55-0d7a1a3e2b10")

# Domain order and counts of the real test_all.json.
DOMAINS = [
    ("file_explorer", 19), ("libreoffice_calc", 24), ("notepad", 2), ("chrome", 17),
    ("microsoft_paint", 3), ("libreoffice_writer", 19), ("settings", 5), ("vs_code", 24),
    ("msedge", 13), ("vlc", 21), ("windows_calc", 3), ("clock", 4),
]

INSTRUCTIONS = {
    "file_explorer": "Create a new folder named 'Archive {n}' on the Desktop and move the file report{n}.txt into it.",
    "libreoffice_calc": "In the open spreadsheet, fill column C with the sum of columns A and B for rows 2 to {m}.",
    "notepad": "Open Notepad, type 'Meeting notes {n}' and save the file as notes{n}.txt in Documents.",
    "chrome": "Open Chrome and bookmark the page currently shown in tab {n}.",
    "microsoft_paint": "Draw a red circle in the centre of the canvas in Paint and save it as circle{n}.png.",
    "libreoffice_writer": "Make the heading of section {n} bold and centred in the open document.",
    "settings": "Turn on night light in the display settings (step {n}).",
    "vs_code": "In VS Code, change the editor font size to {m} for the current workspace.",
    "msedge": "Set Microsoft Edge to open a new tab page on start-up ({n}).",
    "vlc": "In VLC, set the playback speed of the open video to {speed}x.",
    "windows_calc": "Use the Calculator to compute {m} * 12 and copy the result to the clipboard.",
    "clock": "Add a timer named 'Tea {n}' for {m} minutes in the Clock app.",
}


def task_id(domain, index):
    return "%s-WOS" % uuid.uuid5(NAMESPACE, "%s/%d" % (domain, index))


def test_all():
    return {domain: [task_id(domain, i) for i in range(count)] for domain, count in DOMAINS}


def test_small(all_tasks):
    # Six tasks, in this order: their simulated outcomes (see mm_agents/navi/agent.py) are a pass
    # written as 1, a pass written as True, an exception, a fail, a partial score and a pass as 1.0.
    picks = [("microsoft_paint", 0), ("notepad", 1), ("chrome", 2), ("settings", 0), ("vlc", 3), ("clock", 1)]
    out = {}
    for domain, index in picks:
        out.setdefault(domain, []).append(all_tasks[domain][index])
    return out


def config(domain, example_id, index):
    text = INSTRUCTIONS[domain].format(n=index + 1, m=10 + index, speed=1 + (index % 3) * 0.5)
    return {
        "id": example_id,
        "snapshot": domain,
        "instruction": text,
        "source": "waa-sim",
        "config": [{"type": "sleep", "parameters": {"seconds": 1}}],
        "trajectory": "trajectories/",
        "related_apps": [domain],
        "evaluator": {"func": "compare_text_file", "result": {"type": "vm_file"}, "expected": {"type": "rule"}},
    }


def main(argv):
    all_tasks = test_all()
    small = test_small(all_tasks)
    if "--check" in argv:
        with open(os.path.join(HERE, "test_all.json")) as f:
            assert json.load(f) == all_tasks, "test_all.json differs from the generator"
        with open(os.path.join(HERE, "test_small.json")) as f:
            assert json.load(f) == small, "test_small.json differs from the generator"
        print("ok: %d tasks, %d small" % (sum(map(len, all_tasks.values())), sum(map(len, small.values()))))
        return 0
    if "--lists" in argv:
        for name, data in (("test_all.json", all_tasks), ("test_small.json", small)):
            with open(os.path.join(HERE, name), "w") as f:
                json.dump(data, f, indent=4)
                f.write("\n")
    for domain, ids in all_tasks.items():
        directory = os.path.join(HERE, "examples", domain)
        os.makedirs(directory, exist_ok=True)
        for index, example_id in enumerate(ids):
            with open(os.path.join(directory, example_id + ".json"), "w") as f:
                json.dump(config(domain, example_id, index), f, indent=4)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

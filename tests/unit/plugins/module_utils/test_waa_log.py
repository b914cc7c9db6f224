"""_waa_log: the WAA client's stdout (real format, ANSI codes, multi-line records) into events."""
import pytest

from ansible_collections.openadapt.waa.plugins.module_utils._waa_log import (
    WaaLogParser,
    parse_namespace,
    parse_result,
    strip_ansi,
)

PAINT = "409f0043-6c4a-5eba-88f1-9940648d32f9-WOS"
NOTEPAD = "aa784f48-0ac0-5d58-9ac8-a64bdb4588a6-WOS"
CHROME = "048f01dc-d108-598e-beaf-dfd031cefd78-WOS"
SETTINGS = "010d2406-2406-5463-9960-10d4eb0bcd89-WOS"


def L(module, msg, level="INFO", lineno=84, ts="2026-01-01 12:00:00,023"):
    """One line exactly as the client's logging.Formatter writes it."""
    return ("\x1b[1;33m[%s \x1b[31m%s \x1b[32m%s/%d-MainProcess\x1b[1;33m] \x1b[0m%s\n"
            % (ts, level, module, lineno, msg))


def task(domain, task_id, instruction, steps, result_lines, end):
    out = L("run", "Windows Agent Arena: Starting on NORMAL difficulty", lineno=138)
    out += L("run", "\nTESTING ON TASK CONFIG PATH: evaluation_examples_windows/examples/%s/%s.json" % (domain, task_id))
    out += L("run", "[Domain]: %s" % domain) + L("run", "[Example ID]: %s" % task_id)
    out += L("run", "[Instruction]: %s" % instruction)
    out += L("desktop_env", "Resetting environment...")
    for n, action in enumerate(steps, 1):
        out += L("lib_run_single", "Agent: Thinking...", lineno=21)
        out += L("lib_run_single", "Step %d: %s" % (n, action), lineno=26)
        if action == "RAISE":
            break
        done = action in ("DONE", "FAIL")
        out += L("lib_run_single", "Reward: 0.00", lineno=30)
        out += L("lib_run_single", "Done: %s" % done, lineno=31)
        if done:
            out += L("lib_run_single", "The episode is done.", lineno=34)
    out += "".join(result_lines)
    out += end
    return out


MULTI = "import pyautogui\npyautogui.moveTo(237, 173)\npyautogui.click()\npyautogui.write('step 1')"
TRACEBACK = ("Traceback (most recent call last):\n"
             "  File \"/client/run.py\", line 166, in test\n"
             "    lib_run_single.run_single_example(agent, env, example, max_steps, instruction, args,\n"
             "Step 9: not a step, part of a traceback\n"
             "Result: 1.00\n"
             "desktop_env.controllers.python.ServerConnectionError: HTTPConnectionPool(host='20.20.20.21', "
             "port=5000): Read timed out. (read timeout=120)\n")

RECORDED = (
    "Waiting for the server to start...\n"
    "Response from server: {'message': 'Service is operational', 'status': 'Probe successful'}\n"
    + L("run", "\nTESTING ON TASK JSON PATH: evaluation_examples_windows/test_small.json", lineno=315)
    + L("run", "Left tasks:\nmicrosoft_paint: 1\nnotepad: 1\nchrome: 1\nsettings: 1\nclock: 0\n", lineno=329)
    + L("run", "Worker 0 is doing tasks: [('microsoft_paint', '%s'), ('notepad', '%s'), ('chrome', '%s'), ('settings', '%s')]"
        % (PAINT, NOTEPAD, CHROME, SETTINGS), lineno=341)
    + "Current Success Rate: 50.0 %\n"
    + L("run", "Args: Namespace(headless=False, action_space='pyautogui', observation_type='a11y_tree', "
        "max_steps=15, agent_name='navi', model='gpt-4o-mini', stop_token=None, temperature=1.0, "
        "result_dir='/client/results', trial_id='0', worker_id=0, num_workers=1)", lineno=125)
    + task("microsoft_paint", PAINT, "Draw a red circle in the centre of the canvas", [MULTI, "WAIT", "DONE"], [
        L("lib_run_single", "Running evaluator(s)...", lineno=38),
        L("file", "Result: true", lineno=8),
        L("general", "Result: Found a red circle at (720, 450) with radius 85, expected one", lineno=9),
        L("general", "Result: 0.00", lineno=12),  # a two-decimal Result from another module: not the score
        L("lib_run_single", "Result: 1.00", lineno=40),
    ], L("run", "Finished microsoft_paint/%s" % PAINT, lineno=186))
    + task("notepad", NOTEPAD, "Open Notepad,\ntype 'Meeting notes 2'", [MULTI, "DONE"], [
        L("lib_run_single", "Running evaluator(s)...", lineno=38),
        L("file", "Result: true", lineno=8),
        L("lib_run_single", "Result: 1.00", lineno=40),
    ], L("run", "Finished notepad/%s" % NOTEPAD, lineno=186))
    + task("chrome", CHROME, "Bookmark the page", [MULTI, "RAISE"], [],
           L("run", "Exception in chrome/%s: HTTPConnectionPool(host='20.20.20.21', port=5000): Read timed out." % CHROME,
             level="ERROR", lineno=169)
           + L("run", TRACEBACK, level="ERROR", lineno=171))
    + task("settings", SETTINGS, "Turn on night light", ["FAIL"], [
        L("lib_run_single", "Running evaluator(s)...", lineno=38),
        L("file", "Result: false", lineno=8),
        L("lib_run_single", "Result: 0.00", lineno=40),
    ], L("run", "Finished settings/%s" % SETTINGS, lineno=186))
    + L("run", "Average score: 0.6666666666666666", lineno=196)
)


def parse_all(text, chunk=None):
    parser = WaaLogParser()
    events = []
    if chunk is None:
        events += parser.feed(text)
    else:
        for i in range(0, len(text), chunk):
            events += parser.feed(text[i:i + chunk])
    events += parser.close()
    return parser, events


def of(events, kind):
    return [e for e in events if e["type"] == kind]


@pytest.mark.parametrize("chunk", [None, 1, 7, 4096])
def test_recorded_run(chunk):
    parser, events = parse_all(RECORDED, chunk)
    assert of(events, "left") == [{"type": "left", "domains": {"microsoft_paint": 1, "notepad": 1, "chrome": 1,
                                                               "settings": 1, "clock": 0}, "total": 4}]
    worker = of(events, "worker")[0]
    assert worker["worker_id"] == 0 and worker["total"] == 4 and worker["tasks"][2] == ["chrome", CHROME]
    assert parser.total == 4
    assert parser.args["model"] == "gpt-4o-mini" and parser.args["worker_id"] == 0 and parser.args["stop_token"] is None

    starts = of(events, "task_start")
    assert [(s["domain"], s["task_id"]) for s in starts] == [
        ("microsoft_paint", PAINT), ("notepad", NOTEPAD), ("chrome", CHROME), ("settings", SETTINGS)]
    assert starts[0]["config_path"] == "evaluation_examples_windows/examples/microsoft_paint/%s.json" % PAINT
    assert starts[1]["instruction"] == "Open Notepad,\ntype 'Meeting notes 2'"

    steps = of(events, "step")
    paint_steps = [s for s in steps if s["task_id"] == PAINT]
    assert [s["step_idx"] for s in paint_steps] == [1, 2, 3]
    assert paint_steps[0]["action"] == MULTI  # continuation lines belong to the action
    assert [s["action"] for s in paint_steps[1:]] == ["WAIT", "DONE"]
    assert not any("traceback" in s["action"] for s in steps)
    assert [s["action"] for s in steps if s["task_id"] == SETTINGS] == ["FAIL"]

    # Only lib_run_single's two-decimal Result is a score: never "Result: true", the red circle,
    # another module's "Result: 0.00", the traceback's "Result: 1.00" or any "Reward:".
    assert [e["score"] for e in of(events, "score")] == [1.0, 1.0, 0.0]

    ends = of(events, "task_end")
    assert [(e["task_id"], e["status"], e["score"], e["steps"]) for e in ends] == [
        (PAINT, "finished", 1.0, 3), (NOTEPAD, "finished", 1.0, 2), (CHROME, "error", None, 2),
        (SETTINGS, "finished", 0.0, 1)]
    assert ends[2]["error"].startswith("HTTPConnectionPool(host='20.20.20.21'")
    assert of(events, "run_end") == [{"type": "run_end", "average_score": pytest.approx(2 / 3)}]
    assert parser.finished and parser.task is None


def test_events_come_in_stream_order():
    _, events = parse_all(RECORDED)
    kinds = [e["type"] for e in events if e.get("task_id") == CHROME]
    assert kinds == ["task_start", "step", "step", "task_end"]
    order = [e["type"] for e in events]
    assert order.index("left") < order.index("worker") < order.index("task_start")
    assert order[-1] == "run_end"


def test_idle_completes_a_pending_multiline_step():
    parser = WaaLogParser()
    head = task("notepad", NOTEPAD, "x", [], [], "")
    parser.feed(head)
    parser.feed(L("lib_run_single", "Agent: Thinking...") + L("lib_run_single", "Step 1: " + MULTI))
    # The step record could still grow; once the stream is idle it is complete.
    events = parser.idle()
    assert [(e["type"], e["action"]) for e in events] == [("step", MULTI)]
    assert parser.feed(L("lib_run_single", "Reward: 0.00")) == []


def test_no_examples_finished_and_a_killed_run():
    parser, events = parse_all(L("run", "Left tasks:\nchrome: 0\n") + L("run", "No examples finished."))
    assert parser.total == 0 and of(events, "run_end") == [{"type": "run_end", "average_score": None}]
    # Output that stops inside a task (client killed): the task ends as incomplete.
    parser, events = parse_all(task("vlc", "v-1", "play", [MULTI], [], ""))
    assert of(events, "task_end")[0]["status"] == "incomplete" and not parser.finished


def test_carriage_returns_and_stray_lines():
    text = "Domain:   0%|          | 0/1 [00:00<?, ?it/s]\rDomain: 100%|##########| 1/1\n" + L("run", "Left tasks:\r\nnotepad: 2\r\n")
    parser, events = parse_all(text)
    assert parser.stray_lines == 1 and of(events, "left")[0]["total"] == 2


def test_exception_for_another_task_ends_the_running_one_as_incomplete():
    text = task("notepad", NOTEPAD, "x", [MULTI], [], "")
    text += L("run", "Exception in chrome/%s: boom" % CHROME, level="ERROR")
    _, events = parse_all(text)
    assert [(e["task_id"], e["status"]) for e in of(events, "task_end")] == [(NOTEPAD, "incomplete"), (CHROME, "error")]


def test_strip_ansi_matches_the_reference_line():
    line = "\x1b[1;33m[2026-01-01 12:00:00,023 \x1b[31mINFO \x1b[32mlib_run_single/84-MainProcess\x1b[1;33m] \x1b[0mResult: 1.00"
    assert strip_ansi(line) == "[2026-01-01 12:00:00,023 INFO lib_run_single/84-MainProcess] Result: 1.00"


@pytest.mark.parametrize("text,expected", [
    ("1\n", (1.0, True)), ("1.0\n", (1.0, True)), ("1.00", (1.0, True)), ("True\n", (1.0, True)),
    ("0\n", (0.0, False)), ("0.0", (0.0, False)), ("False\n", (0.0, False)), ("0.5\n", (0.5, False)),
    ("", (None, None)), ("nan", (None, None)), ("oops", (None, None)),
    # Outside [0, 1] is no score: a success is exactly 1, and an average cannot be lifted.
    ("2", (None, None)), ("1.01", (None, None)), ("-1", (None, None)), ("inf", (None, None)), ("1e9", (None, None)),
])
def test_parse_result(text, expected):
    assert parse_result(text) == expected


def test_parse_namespace():
    ns = parse_namespace("Namespace(a='x, y', b=2, c=None, d=True, e=1.5, f='it\\'s')")
    assert ns == {"a": "x, y", "b": 2, "c": None, "d": True, "e": 1.5, "f": "it's"}

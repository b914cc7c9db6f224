"""What running a command on the Windows VM does, emulated on the simulated desktop.

The WAA server calls subprocess.run/Popen and exec()s agent code. The simulator keeps those
calls as they are but hands them emulated modules (subprocess, os, platform, pyautogui) built
here, so requests behave as on Windows without running anything on Linux:

- programs: notepad (a window; the process lives until the window closes), python (runs
  `-c` code in-process with the emulated modules), cmd, taskkill, tasklist. Anything else
  is missing: FileNotFoundError "[WinError 2] ..." without a shell, "'x' is not recognized
  ..." and returncode 1 through cmd.exe.
- cmd.exe lines: start, echo, ver, exit, and the &&, ||, & operators. As on Windows,
  `cmd /c notepad` waits for Notepad to close; `start notepad` does not.
- `computer`, the object WAA's /execute_windows code drives (mouse, keyboard, os, clipboard,
  window_manager), is None-valued until /update_computer, as in WAA's server.
"""
import builtins
import collections
import difflib
import io
import ntpath
import os as real_os
import platform as real_platform
import subprocess as real_subprocess
import sys
import threading
import time
import traceback
import types

PIPE, STDOUT, DEVNULL = real_subprocess.PIPE, real_subprocess.STDOUT, real_subprocess.DEVNULL
PYTHON_VERSION = "3.10.11"
PYTHON_EXE = r"C:\Users\Docker\AppData\Local\Programs\Python\Python310\python.exe"
WINDOWS_VERSION = "10.0.22631.2861"
CWD = r"C:\oem\server"
HOME = r"C:\Users\Docker"
GUI_PROGRAMS = {"notepad"}
CONSOLE_PROGRAMS = {"python", "python3", "py", "cmd", "taskkill", "tasklist"}


class WinError(OSError):
    """OSError as Windows' CreateProcess raises it: str() is "[WinError N] text"."""

    def __str__(self):
        return f"[WinError {self.errno}] {self.strerror}"


class WinFileNotFoundError(WinError, FileNotFoundError):
    def __init__(self):
        super().__init__(2, "The system cannot find the file specified")


# -- per-thread stdout/stderr: emulated code prints into its own process's buffers ------------

_local = threading.local()


class _Router(io.TextIOBase):
    def __init__(self, name, fallback):
        self.name, self.fallback = name, fallback

    def write(self, text):
        buf = getattr(_local, self.name, None)
        (buf if buf is not None else self.fallback).write(text)
        return len(text)

    def flush(self):
        self.fallback.flush()


def install_stdio_router():
    """Called once by the server: print() in emulated code then lands in the right process."""
    if not isinstance(sys.stdout, _Router):
        sys.stdout = _Router("out", sys.stdout)
        sys.stderr = _Router("err", sys.stderr)


def split_cmdline(line):
    """CommandLineToArgvW: double quotes group, 2n backslashes + quote -> n backslashes."""
    args, cur, quoted, have, i = [], [], False, False, 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            n = 0
            while i < len(line) and line[i] == "\\":
                n, i = n + 1, i + 1
            if i < len(line) and line[i] == '"':
                cur.append("\\" * (n // 2))
                if n % 2:
                    cur.append('"')
                    i += 1
            else:
                cur.append("\\" * n)
            have = True
            continue
        if c == '"':
            quoted, have = not quoted, True
        elif c in " \t" and not quoted:
            if have:
                args.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(c)
            have = True
        i += 1
    if have:
        args.append("".join(cur))
    return args


def _split_operators(line):
    """Split a cmd.exe line at &&, || and & outside quotes: [(op_before, segment), ...]."""
    parts, cur, quoted, op, i = [], [], False, None, 0
    while i < len(line):
        c = line[i]
        if c == '"':
            quoted = not quoted
        if not quoted and c in "&|":
            two = line[i:i + 2]
            if two in ("&&", "||") or c == "&":
                parts.append((op, "".join(cur).strip()))
                op = two if two in ("&&", "||") else "&"
                cur, i = [], i + len(op)
                continue
        cur.append(c)
        i += 1
    parts.append((op, "".join(cur).strip()))
    return parts


def _exit_status(exc, err):
    """What the interpreter does with the exception that ended `python -c`: the exit code."""
    if isinstance(exc, SystemExit):
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        err.write(f"{exc.code}\n")
        return 1
    tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # drop exec_code's own frame
    err.write("".join(traceback.format_exception(type(exc), exc, tb)))
    return 1


def _program(name):
    base = ntpath.basename(str(name)).lower()
    return base[:-4] if base.endswith(".exe") else base


class Process:
    """An emulated Windows process. GUI processes are bound to their window."""

    def __init__(self, pid, image, window=None, desktop=None):
        self.pid, self.image, self.window, self.desktop = pid, image, window, desktop
        self.returncode, self.stdout, self.stderr = None, "", ""
        self._done = threading.Event()

    def finish(self, rc, out="", err=""):
        if not self._done.is_set():
            self.stdout, self.stderr, self.returncode = out, err, rc
            self._done.set()

    def wait(self, timeout=None):
        return self._done.wait(timeout)

    def kill(self):
        """TerminateProcess: a window goes away; child processes of cmd.exe survive."""
        if self.window is not None:
            self.desktop.close(self.window, 1)
        self.finish(1, self.stdout, self.stderr)


class Windows:
    def __init__(self, desktop, action_sleep_scale=1.0):
        self.desktop = desktop
        self.action_sleep_scale = action_sleep_scale
        self.modules = {"pyautogui": make_pyautogui(desktop), "subprocess": make_subprocess(self),
                        "os": make_os(self), "platform": make_platform()}
        self.builtins = dict(builtins.__dict__, __import__=self._import)

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        root = name.partition(".")[0]
        if level == 0 and root in self.modules:
            if name == root:
                return self.modules[root]
            module = builtins.__import__(name, globals, locals, fromlist, level)  # e.g. os.path
            return module if fromlist else self.modules[root]
        return builtins.__import__(name, globals, locals, fromlist, level)

    def knows(self, program):
        return _program(program) in GUI_PROGRAMS | CONSOLE_PROGRAMS

    def _run_in_thread(self, proc, body):
        def run():
            try:
                proc.finish(*body())
            except Exception:  # an emulator bug must still end the process
                proc.finish(1, "", traceback.format_exc())
        threading.Thread(target=run, daemon=True).start()
        return proc

    # -- CreateProcess ---------------------------------------------------------------------

    def spawn(self, args, shell=False):
        """Start a process like subprocess.Popen on Windows; never blocks."""
        if shell:
            line = args if isinstance(args, str) else real_subprocess.list2cmdline([str(a) for a in args])
            proc = Process(self.desktop.new_pid(), "cmd.exe")
            return self._run_in_thread(proc, lambda: self.cmd_line(line))
        argv = split_cmdline(args) if isinstance(args, str) else [str(a) for a in args]
        if not argv:
            raise WinError(87, "The parameter is incorrect")
        prog = _program(argv[0])
        if prog == "notepad":
            win = self.desktop.open_notepad(argv[1] if len(argv) > 1 else None)
            proc = Process(win.pid, "notepad.exe", win, self.desktop)
            return self._run_in_thread(proc, lambda: (win.closed.wait(), (win.exit_code, "", ""))[1])
        handlers = {"python": self.python, "python3": self.python, "py": self.python, "cmd": self.cmd,
                    "taskkill": self.taskkill, "tasklist": self.tasklist}
        if prog not in handlers:
            raise WinFileNotFoundError()
        proc = Process(self.desktop.new_pid(), f"{prog}.exe")
        return self._run_in_thread(proc, lambda: handlers[prog](argv[1:]))

    # -- cmd.exe ---------------------------------------------------------------------------

    def cmd(self, args):
        if args and args[0].lower() in ("/c", "/k"):
            return self.cmd_line(real_subprocess.list2cmdline(args[1:]))
        banner = f"Microsoft Windows [Version {WINDOWS_VERSION}]\n(c) Microsoft Corporation. All rights reserved.\n"
        return 0, f"{banner}\n{CWD}>", ""  # no /c: an interactive cmd that reads an empty stdin

    def cmd_line(self, line):
        out, err, rc = [], [], 0
        for op, segment in _split_operators(line):
            if (op == "&&" and rc != 0) or (op == "||" and rc == 0) or not segment:
                continue
            rc, o, e = self._cmd_segment(segment)
            out.append(o)
            err.append(e)
        return rc, "".join(out), "".join(err)

    def _cmd_segment(self, segment):
        argv = split_cmdline(segment)
        verb = argv[0].lower() if argv else ""
        if verb == "echo" or verb.startswith("echo."):
            return 0, segment[5:] + "\n", ""
        if verb == "ver":
            return 0, f"\nMicrosoft Windows [Version {WINDOWS_VERSION}]\n", ""
        if verb == "exit":
            codes = [a for a in argv[1:] if a.lower() != "/b"]
            return (int(codes[0]) if codes and codes[0].lstrip("-").isdigit() else 0), "", ""
        if verb == "start":
            rest = argv[1:]
            if rest and segment.split(None, 1)[1].startswith('"'):
                rest = rest[1:]  # the optional window title
            rest = [a for a in rest if not a.lower().startswith("/")]
            if not rest:
                return 0, "", ""  # would open a new console window
            try:
                self.spawn(rest)
            except OSError:
                return 1, "", f"The system cannot find the file {rest[0]}.\n"
            return 0, "", ""
        try:
            proc = self.spawn(argv)
        except OSError:
            return 1, "", (f"'{argv[0]}' is not recognized as an internal or external command,\n"
                           "operable program or batch file.\n")
        proc.wait()  # cmd waits for programs it runs directly, GUI ones included
        return proc.returncode, proc.stdout, proc.stderr

    # -- programs --------------------------------------------------------------------------

    def python(self, args):
        flags = {"-u", "-B", "-E", "-s", "-S", "-I", "-O", "-OO", "-q"}
        args = list(args)
        while args and args[0] in flags:
            args.pop(0)
        if not args:
            return 0, "", ""  # stdin is empty: nothing to run
        if args[0] in ("-V", "--version"):
            return 0, f"Python {PYTHON_VERSION}\n", ""
        if args[0] == "-m":
            return 1, "", f"{PYTHON_EXE}: No module named {args[1] if len(args) > 1 else ''}\n"
        if args[0] != "-c":
            path = args[0] if ntpath.isabs(args[0]) else ntpath.join(CWD, args[0])
            return 2, "", f"{PYTHON_EXE}: can't open file '{path}': [Errno 2] No such file or directory\n"
        return self.exec_code(args[1] if len(args) > 1 else "", {"__name__": "__main__"})

    def exec_code(self, code, namespace, capture_exceptions=True):
        """Run Python source with the emulated modules; (returncode, stdout, stderr). With
        capture_exceptions=False exceptions propagate, as from exec() in /execute_windows."""
        out, err = io.StringIO(), io.StringIO()
        _local.out, _local.err = out, err
        rc = 0
        try:
            exec(compile(code, "<string>", "exec"), dict(namespace, __builtins__=self.builtins))
        except BaseException as exc:
            if not capture_exceptions:
                raise
            rc = _exit_status(exc, err)
        finally:
            _local.out = _local.err = None
        return rc, out.getvalue(), err.getvalue()

    def taskkill(self, args):
        force = any(a.lower() == "/f" for a in args)
        targets = []
        for flag, value in zip(args, args[1:]):
            if flag.lower() == "/im":
                targets.append(("im", value))
            elif flag.lower() == "/pid":
                targets.append(("pid", value))
        if not targets:
            return 1, "", ('ERROR: Invalid syntax. Neither /FI nor /PID nor /IM were specified.\n'
                           'Type "TASKKILL /?" for usage.\n')
        out, err, rc = [], [], 0
        for kind, value in targets:
            if kind == "im":
                wins = self.desktop.by_image(value)
            else:
                wins = self.desktop.by_pid(int(value)) if value.isdigit() else []
            if not wins:
                err.append(f'ERROR: The process "{value}" not found.\n')
                rc = 128
            for win in wins:
                self.desktop.close(win, 1 if force else 0)
                if force:
                    out.append(f'SUCCESS: The process "{win.image}" with PID {win.pid} has been terminated.\n')
                else:
                    out.append(f'SUCCESS: Sent termination signal to the process "{win.image}" with PID {win.pid}.\n')
        return rc, "".join(out), "".join(err)

    def tasklist(self, args):
        rows = [("System Idle Process", 0, "Services", 0, "8 K"), ("System", 4, "Services", 0, "148 K"),
                ("explorer.exe", 3988, "Console", 1, "112,344 K"), ("python.exe", 4312, "Console", 1, "61,020 K")]
        with self.desktop.lock:
            rows += [(w.image, w.pid, "Console", 1, "14,336 K") for w in reversed(self.desktop.windows)]
        for flag, value in zip(args, args[1:]):
            words = value.lower().split()
            if flag.lower() == "/fi" and len(words) == 3 and words[:2] == ["imagename", "eq"]:
                rows = [r for r in rows if r[0].lower() == words[2].lower()]
        if not rows:
            return 0, "INFO: No tasks are running which match the specified criteria.\n", ""
        lines = ["", "Image Name                     PID Session Name        Session#    Mem Usage",
                 "========================= ======== ================ =========== ============"]
        lines += [f"{n:<25} {p:>8} {s:<16} {k:>11} {m:>12}" for n, p, s, k, m in rows]
        return 0, "\n".join(lines) + "\n", ""

    # -- the `computer` object of /execute_windows --------------------------------------------

    def sleep(self, seconds):
        if self.action_sleep_scale > 0:
            time.sleep(seconds * self.action_sleep_scale)


# -- emulated modules ----------------------------------------------------------------------------

def make_subprocess(win):
    """subprocess as seen by code running on the Windows VM."""
    mod = types.ModuleType("subprocess")
    for name in ("PIPE", "STDOUT", "DEVNULL", "CompletedProcess", "CalledProcessError", "TimeoutExpired",
                 "SubprocessError", "list2cmdline"):
        setattr(mod, name, getattr(real_subprocess, name))

    class Popen:
        def __init__(self, args, bufsize=-1, executable=None, stdin=None, stdout=None, stderr=None,
                     shell=False, cwd=None, env=None, universal_newlines=None, text=None, encoding=None,
                     errors=None, **_):
            self.args = args
            self._proc = win.spawn(args, shell=shell)
            self.pid = self._proc.pid
            self._text = bool(text or universal_newlines or encoding or errors)
            self._out, self._err = stdout, stderr
            self.stdin = self.stdout = self.stderr = None

        @property
        def returncode(self):
            return self._proc.returncode

        def _conv(self, text):
            return text if self._text else text.replace("\n", "\r\n").encode("cp1252", "replace")

        def poll(self):
            return self._proc.returncode

        def wait(self, timeout=None):
            if not self._proc.wait(timeout):
                raise real_subprocess.TimeoutExpired(self.args, timeout)
            return self._proc.returncode

        def communicate(self, input=None, timeout=None):
            self.wait(timeout)
            out, err = self._proc.stdout, self._proc.stderr
            if self._err == STDOUT:
                out, err = out + err, None
            return (self._conv(out) if self._out == PIPE else None,
                    self._conv(err) if err is not None and self._err == PIPE else None)

        def kill(self):
            self._proc.kill()

        terminate = kill

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def run(*popenargs, input=None, capture_output=False, timeout=None, check=False, **kwargs):
        if capture_output:
            kwargs["stdout"] = kwargs["stderr"] = PIPE
        with Popen(*popenargs, **kwargs) as proc:
            try:
                out, err = proc.communicate(input, timeout=timeout)
            except real_subprocess.TimeoutExpired:
                proc.kill()
                raise
            rc = proc.poll()
        if check and rc:
            raise real_subprocess.CalledProcessError(rc, proc.args, out, err)
        return real_subprocess.CompletedProcess(proc.args, rc, out, err)

    def call(*args, timeout=None, **kwargs):
        return run(*args, timeout=timeout, **kwargs).returncode

    def check_call(*args, **kwargs):
        return run(*args, check=True, **kwargs).returncode

    def check_output(*args, **kwargs):
        return run(*args, stdout=PIPE, check=True, **kwargs).stdout

    mod.Popen, mod.run, mod.call, mod.check_call, mod.check_output = Popen, run, call, check_call, check_output
    return mod


def make_os(win):
    """os with the calls that start programs redirected to the emulated Windows."""
    mod = types.ModuleType("os")
    mod.__getattr__ = lambda name: getattr(real_os, name)

    def system(command):
        proc = win.spawn(command, shell=True)
        proc.wait()
        return proc.returncode

    def startfile(path, operation=None, *args, **kwargs):
        if str(path).lower().endswith(".txt"):
            win.spawn(["notepad", str(path)])
        else:
            win.spawn([str(path)])

    mod.system, mod.startfile = system, startfile
    mod.getlogin = lambda: "Docker"
    return mod


def make_platform():
    mod = types.ModuleType("platform")
    mod.__getattr__ = lambda name: getattr(real_platform, name)
    mod.system = lambda: "Windows"
    mod.release = lambda: "10"
    mod.version = lambda: WINDOWS_VERSION.rsplit(".", 1)[0]
    mod.machine = lambda: "AMD64"
    return mod


def make_pyautogui(desktop):
    """The pyautogui calls agents use, acting on the simulated desktop."""
    mod = types.ModuleType("pyautogui")
    Point = collections.namedtuple("Point", "x y")
    Size = collections.namedtuple("Size", "width height")
    mod.Point, mod.Size, mod.PAUSE, mod.FAILSAFE = Point, Size, 0.1, True

    def _xy(x, y):
        if isinstance(x, (tuple, list)):
            x, y = x[0], x[1]
        cx, cy = desktop.mouse
        return (cx if x is None else x), (cy if y is None else y)

    def position(x=None, y=None):
        return Point(*(int(v) for v in _xy(x, y)))

    def size():
        return Size(desktop.width, desktop.height)

    def onScreen(x, y=None):
        x, y = _xy(x, y)
        return 0 <= x < desktop.width and 0 <= y < desktop.height

    def moveTo(x=None, y=None, duration=0.0, *args, **kwargs):
        desktop.move_mouse(*_xy(x, y))

    def moveRel(xOffset=0, yOffset=0, *args, **kwargs):
        if isinstance(xOffset, (tuple, list)):
            xOffset, yOffset = xOffset[0], xOffset[1]
        desktop.move_mouse(desktop.mouse[0] + (xOffset or 0), desktop.mouse[1] + (yOffset or 0))

    def click(x=None, y=None, clicks=1, interval=0.0, button="left", *args, **kwargs):
        x, y = _xy(x, y)
        for _ in range(int(clicks)):
            desktop.click(x, y, button)

    def write(message, interval=0.0, *args, **kwargs):
        if isinstance(message, (list, tuple)):  # typewrite(["a", "enter"]) presses keys
            for key in message:
                desktop.press(key)
            return
        for ch in message:
            desktop.press("enter") if ch == "\n" else desktop.type_text(ch)

    def press(keys, presses=1, interval=0.0, *args, **kwargs):
        keys = [keys] if isinstance(keys, str) else list(keys)
        for _ in range(int(presses)):
            for key in keys:
                desktop.press(key)

    def scroll(clicks, x=None, y=None, *args, **kwargs):
        if x is not None:
            desktop.move_mouse(*_xy(x, y))

    def getActiveWindowTitle():
        win = desktop.active()
        return win.title if win else ""

    mod.position, mod.size, mod.onScreen = position, size, onScreen
    mod.moveTo, mod.moveRel, mod.move = moveTo, moveRel, moveRel
    mod.dragTo, mod.dragRel = moveTo, moveRel  # no drag-and-drop targets exist on this desktop
    mod.mouseDown = mod.mouseUp = lambda x=None, y=None, *a, **k: moveTo(x, y)
    mod.click = click
    mod.doubleClick = lambda x=None, y=None, *a, **k: click(x, y, clicks=2)
    mod.tripleClick = lambda x=None, y=None, *a, **k: click(x, y, clicks=3)
    mod.rightClick = lambda x=None, y=None, *a, **k: click(x, y, button="right")
    mod.middleClick = lambda x=None, y=None, *a, **k: click(x, y, button="middle")
    mod.scroll = mod.vscroll = mod.hscroll = scroll
    mod.write = mod.typewrite = write
    mod.press = press
    mod.hotkey = lambda *keys, **kwargs: desktop.hotkey(*keys)
    mod.keyDown = mod.keyUp = lambda key, *a, **k: None  # holding a key changes nothing visible here
    mod.getActiveWindowTitle = getActiveWindowTitle
    return mod


class Computer:
    """WAA's computer.Computer: every part is None until /update_computer."""

    def __init__(self, win):
        self.win = win
        self.mouse = self.clipboard = self.os = self.window_manager = self.keyboard = None

    def update(self, rects, window_rect, scale=(1.0, 1.0), clipboard_content=None, swap_ctrl_alt=False):
        gui = self.win.modules["pyautogui"]
        self.mouse = Mouse(self.win, gui, rects, window_rect, scale or (1.0, 1.0))
        self.clipboard = Clipboard(self.win, gui, clipboard_content, swap_ctrl_alt)
        self.os = OS(self.win, gui)
        self.window_manager = WindowManager(self.win)
        self.keyboard = Keyboard(self.win, gui)


class Mouse:
    def __init__(self, win, gui, rects, window_rect, scale):
        self.win, self.gui, self.rects, self.window_rect, self.scale = win, gui, rects, window_rect, scale

    def move_id(self, id):
        rect = self.rects[id]
        x = (rect[0] + rect[2]) // 2 * self.scale[0] + self.window_rect[0]
        y = (rect[1] + rect[3]) // 2 * self.scale[1] + self.window_rect[1]
        self.gui.moveTo(x, y)
        self.win.sleep(0.25)

    def move_abs(self, x, y):  # x, y normalised to the observed window
        self.gui.moveTo(int(x * (self.window_rect[2] - self.window_rect[0])) + self.window_rect[0],
                        int(y * (self.window_rect[3] - self.window_rect[1])) + self.window_rect[1])
        self.win.sleep(0.25)

    move = move_abs

    def single_click(self):
        self.gui.click()
        self.win.sleep(0.25)

    def double_click(self):
        self.gui.doubleClick()
        self.win.sleep(0.25)

    def right_click(self):
        self.gui.rightClick()
        self.win.sleep(0.25)

    def scroll(self, dir="down"):
        if dir not in ("up", "down"):
            raise ValueError("direction must be 'up' or 'down'")
        self.win.sleep(0.25)

    def drag(self, x, y):
        self.move_abs(x, y)


class OS:
    def __init__(self, win, gui):
        self.win, self.gui = win, gui

    def is_installed(self, program):
        return self.win.knows(program)

    def maximize_window(self, window=None):
        active = self.win.desktop.active()
        if active is not None:
            self.win.desktop.maximize(active)
        self.win.sleep(0.25)

    def open_program(self, program):
        if not self.is_installed(program):
            print(f"error: Program {program} is not installed")
            return
        self.win.spawn(f"start {program}", shell=True).wait()
        self.win.sleep(2.0)
        self.gui.press("esc")
        self.maximize_window()
        for _ in range(3):
            self.gui.press("esc")
            self.win.sleep(1.0)


class Keyboard:
    def __init__(self, win, gui):
        self.win, self.gui = win, gui

    def write(self, text):
        self.gui.write(text, interval=0.1)
        self.win.sleep(0.25)

    def press(self, key):
        if len(key) > 1 and ("+" in key or "-" in key):  # "ctrl+c"
            self.gui.hotkey(*[k.strip() for k in key.split("+" if "+" in key else "-")])
        else:
            self.gui.press(key)
        self.win.sleep(0.25)

    def keyDown(self, key):
        self.gui.keyDown(key)
        self.win.sleep(0.25)

    def keyUp(self, key):
        self.gui.keyUp(key)
        self.win.sleep(0.25)

    def hotkey(self, *keys):
        self.gui.hotkey(*keys)
        self.win.sleep(0.25)


class Clipboard:
    def __init__(self, win, gui, clipboard_content, swap_ctrl_alt):
        self.win, self.gui = win, gui
        self.clipboard_content, self.swap_ctrl_alt = clipboard_content, swap_ctrl_alt

    def view_clipboard(self):
        return self.win.desktop.clipboard

    def copy_text(self, text=None):
        print(text)
        if text is not None:
            self.win.desktop.clipboard = text
        else:
            self.gui.hotkey("alt" if self.swap_ctrl_alt else "ctrl", "c")
        self.clipboard_content = text

    def copy_image(self, id, description=""):
        self.clipboard_content = description  # image data is not modelled

    def paste(self):
        self.gui.hotkey("alt" if self.swap_ctrl_alt else "ctrl", "v")
        self.win.sleep(0.25)


class WindowManager:
    def __init__(self, win):
        self.win = win
        self.applications = []

    def find_open_applications(self):
        with self.win.desktop.lock:
            titles = [w.title for w in self.win.desktop.windows] + ["Program Manager"]
        self.applications = list(dict.fromkeys(titles))
        return self.applications

    def switch_to_application(self, app_name):
        self.find_open_applications()
        name = " ".join(app_name.split())
        match = difflib.get_close_matches(name, [" ".join(a.split()) for a in self.applications], n=1)
        if not match:
            print(f"No open window found for the application '{name}'")
            return
        for w in self.win.desktop.find(match[0]):
            self.win.desktop.activate(w)
            self.win.desktop.maximize(w)
            break
        self.win.sleep(0.25)

    def __str__(self):
        return "\n".join(self.applications)

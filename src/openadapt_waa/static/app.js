// The WAA live monitor page. No build step, no network access beyond this viewer.
//
// The server folds run events into state (the collection's apply_event) and sends:
//   event "state": the full snapshot {id, state, runs, phases, boot_stages, log, viewer}
//   event "waa":   {id, run, event, lines, hosts: {name: host state}, run_state, run_info}
// The page keeps the latest state per host and redraws only what changed. When EventSource
// fails it polls api/state every 2 s until the stream is back.
//
// For tests: window.__waaRendered[id] and window.__waaRendered["<run>:<seq>"] hold the time
// (epoch ms) each event was in the DOM; window.__waaModel is the page's model.
(function () {
  "use strict";

  // "phase 4/9 · Windows VM boot"; the benchmark run after the nine setup phases has no number.
  function phaseLabel(phase, sep) {
    return phase.number >= 1 && phase.number <= 9 ? "phase " + phase.number + "/9" + sep + phase.title : phase.title;
  }

  const POLL_MS = 2000;
  const LOG_MAX = 300;
  const STATUS_TEXT = {
    pending: "pending", running: "running", ok: "ok", failed: "failed", warning: "warning", skipped: "skipped",
  };

  window.__waaRendered = {};
  const model = {
    id: 0, state: null, runs: [], phases: [], bootStages: [], log: [], viewer: {},
    tasks: {}, // host -> Map(task_id -> task)
  };
  window.__waaModel = model;
  const cards = new Map(); // host -> {root, refs}

  // -- small helpers ----------------------------------------------------------------------------
  function h(tag, props, children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") el.textContent = value;
      else if (key === "class") el.className = value;
      else if (key === "testid") el.setAttribute("data-testid", value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of [].concat(children || [])) {
      if (child !== null && child !== undefined) el.append(child);
    }
    return el;
  }
  function setText(el, text) {
    text = text === null || text === undefined ? "" : String(text);
    if (el.textContent !== text) el.textContent = text;
  }
  function setAttr(el, name, value) {
    value = value === null || value === undefined ? "" : String(value);
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  }
  function show(el, visible) {
    if (el.hidden === !!visible) el.hidden = !visible;
  }
  function fmtBytes(num) {
    num = Number(num) || 0;
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (Math.abs(num) >= 1000 && i < units.length - 1) { num /= 1000; i++; }
    return i === 0 ? num.toFixed(0) + " B" : num.toFixed(1) + " " + units[i];
  }
  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "";
    seconds = Number(seconds);
    if (seconds < 60) return seconds.toFixed(1) + "s";
    let minutes = Math.floor(Math.round(seconds) / 60);
    const secs = Math.round(seconds) % 60;
    if (minutes < 60) return minutes + "m " + String(secs).padStart(2, "0") + "s";
    const hours = Math.floor(minutes / 60);
    minutes %= 60;
    return hours + "h " + String(minutes).padStart(2, "0") + "m";
  }
  function fmtClock(ts) {
    if (!ts) return "";
    const d = new Date(ts * 1000);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
  }
  function fmtScore(score) {
    if (score === null || score === undefined || score === "") return "";
    const n = Number(score);
    return isNaN(n) ? String(score) : n.toFixed(2);
  }
  function actionText(action) {
    if (action === null || action === undefined) return "";
    if (typeof action === "string") return action;
    if (typeof action === "object" && typeof action.code === "string") return action.code;
    return JSON.stringify(action);
  }
  const now = () => Date.now() / 1000;

  // -- the model ----------------------------------------------------------------------------------
  function trackTasks(host, hostState) {
    const bench = (hostState && hostState.benchmark) || {};
    let tasks = model.tasks[host];
    if (!tasks) tasks = model.tasks[host] = new Map();
    for (const task of bench.completed || []) if (task && task.task_id) tasks.set(task.task_id, task);
    const current = bench.current_task;
    if (current && current.task_id) tasks.set(current.task_id, current);
  }

  function onSnapshot(snap) {
    model.id = snap.id;
    model.state = snap.state;
    model.runs = snap.runs || [];
    model.phases = snap.phases || [];
    model.bootStages = snap.boot_stages || [];
    model.viewer = snap.viewer || {};
    model.log = (snap.log || []).slice(-LOG_MAX);
    model.tasks = {};
    for (const [name, host] of Object.entries(model.state.hosts || {})) trackTasks(name, host);
    for (const [name, card] of Array.from(cards.entries())) {
      if (!(name in model.state.hosts)) { card.root.remove(); cards.delete(name); continue; }
      const tasks = model.tasks[name] || new Map();
      for (const [id, ref] of Array.from(card.refs.tasks.entries())) {
        if (!tasks.has(id)) { ref.li.remove(); card.refs.tasks.delete(id); }
      }
      const urls = new Set((model.state.hosts[name].screenshots || []).map((s) => s.url));
      for (const [url, fig] of Array.from(card.refs.shots.entries())) {
        if (!urls.has(url)) { fig.remove(); card.refs.shots.delete(url); }
      }
    }
    renderAll();
    const t = performance.timeOrigin + performance.now();
    window.__waaRendered["snapshot:" + snap.id] = t;
  }

  function onEvent(msg) {
    if (!model.state) return; // the snapshot always comes first
    if (msg.id <= model.id) return; // already shown (a replay after a reconnect)
    model.id = msg.id;
    Object.assign(model.state, msg.run_state || {});
    for (const [name, host] of Object.entries(msg.hosts || {})) {
      model.state.hosts[name] = host;
      trackTasks(name, host);
    }
    if (msg.run_info) {
      const i = model.runs.findIndex((r) => r.name === msg.run_info.name);
      if (i >= 0) model.runs[i] = msg.run_info; else model.runs.push(msg.run_info);
    }
    for (const line of msg.lines || []) {
      model.log.push({ id: msg.id, ts: msg.event && msg.event.ts, host: msg.event && msg.event.host, text: line });
    }
    if (model.log.length > LOG_MAX) model.log.splice(0, model.log.length - LOG_MAX);
    renderHeader();
    for (const name of Object.keys(msg.hosts || {})) renderHost(name);
    renderFleet();
    renderLog(msg.lines || []);
    const t = performance.timeOrigin + performance.now();
    window.__waaRendered[msg.id] = t;
    if (msg.event && msg.event.seq !== undefined) window.__waaRendered[msg.run + ":" + msg.event.seq] = t;
  }

  // -- rendering: header --------------------------------------------------------------------------
  function overall() {
    const state = model.state;
    if (!state || state.status === "initializing") return { state: "initializing", text: "Initializing..." };
    if (state.status === "complete") {
      const code = state.exit_code;
      if (code === 0) return { state: "complete", text: "Complete: success" };
      const meanings = Object.values(state.hosts || {})
        .filter((h) => h.result && h.result.exit_code === code).map((h) => h.result.exit_meaning).filter(Boolean);
      return { state: "failed", text: "Failed: exit " + code + (meanings.length ? " (" + meanings[0] + ")" : "") };
    }
    const phases = Object.values(state.hosts || {}).map((h) => h.phase && h.phases[h.phase]).filter(Boolean);
    const current = phases.length === 1 ? " \u00b7 " + phaseLabel(phases[0], ": ") : "";
    return { state: "running", text: "Running" + (state.playbook ? " " + state.playbook : "") + current };
  }

  function renderHeader() {
    const status = document.getElementById("status");
    const o = overall();
    setText(status, o.text);
    setAttr(status, "data-state", o.state);
    document.title = (o.state === "initializing" ? "" : o.text + " \u2013 ") + "WAA live monitor";
    const waiting = document.getElementById("waiting");
    show(waiting, o.state === "initializing");
    if (o.state !== "initializing") return;
    const runs = document.getElementById("runs");
    runs.replaceChildren(...model.runs.map((r) => h("li", {}, [
      h("code", { text: r.path }),
      " ",
      h("span", { class: "muted", text: r.exists || r.events ? "(" + r.status + ", " + r.events + " events)" : "(not created yet)" }),
    ])));
  }

  function setConn(mode, text) {
    const conn = document.getElementById("conn");
    setAttr(conn, "data-mode", mode);
    setText(conn, text || mode);
  }

  // -- rendering: one host ------------------------------------------------------------------------
  function phaseGroups() {
    const groups = [];
    for (const [role, number, title] of model.phases) {
      let group = groups.find((g) => g.number === number);
      if (!group) groups.push(group = { number, roles: [], titles: [] });
      group.roles.push(role);
      group.titles.push(title);
    }
    return groups.sort((a, b) => a.number - b.number);
  }

  function createCard(name) {
    const refs = { phases: {}, subphases: {}, shots: new Map(), tasks: new Map() };
    const phaseList = h("ol", { class: "phases", testid: "phases" });
    for (const group of phaseGroups()) {
      const main = group.roles[0];
      const row = h("li", { class: "phase", testid: "phase-" + main, "data-number": group.number, "data-status": "pending" });
      const status = h("span", { class: "pstatus", testid: "phase-" + main + "-status", text: "pending" });
      const duration = h("span", { class: "pduration", testid: "phase-" + main + "-duration" });
      const note = h("div", { class: "pnote", testid: "phase-" + main + "-message", hidden: true });
      const checks = h("ul", { class: "checks", testid: "phase-" + main + "-checks" });
      row.append(h("div", { class: "prow" }, [
        h("span", { class: "pnum", text: String(group.number) }),
        h("span", { class: "ptitle", text: group.titles[0] }), status, duration,
      ]));
      for (let i = 1; i < group.roles.length; i++) {
        const role = group.roles[i];
        const sub = h("div", { class: "subphase", testid: "phase-" + role, "data-status": "pending" }, [
          h("span", { class: "ptitle", text: group.titles[i] }),
          h("span", { class: "pstatus", testid: "phase-" + role + "-status", text: "pending" }),
          h("span", { class: "pduration", testid: "phase-" + role + "-duration" }),
        ]);
        refs.subphases[role] = sub;
        row.append(sub);
      }
      row.append(note, checks);
      refs.phases[main] = { row, status, duration, note, checks, group };
      phaseList.append(row);
    }

    refs.result = h("div", { class: "result", testid: "result", hidden: true });
    refs.otherChecks = h("ul", { class: "checks other", testid: "other-checks", hidden: true });
    refs.pullFill = h("div", { class: "fill" });
    refs.pullBar = h("div", { class: "bar", testid: "pull-bar", "data-pct": "0", role: "progressbar",
      "aria-valuemin": "0", "aria-valuemax": "100" }, [refs.pullFill]);
    refs.pullText = h("div", { class: "bartext", testid: "pull-text" });
    refs.pullTitle = h("h3", { text: "Image pull" });
    refs.pull = h("div", { class: "panel", testid: "pull", hidden: true }, [refs.pullTitle, refs.pullBar, refs.pullText]);
    refs.bootStages = h("ol", { class: "stages", testid: "boot-stages" });
    refs.bootStage = h("span", { testid: "boot-stage" });
    refs.bootLog = h("pre", { class: "log small", testid: "boot-log" });
    refs.boot = h("div", { class: "panel", testid: "boot", hidden: true }, [
      h("h3", {}, ["Windows boot: ", refs.bootStage]), refs.bootStages, refs.bootLog]);
    refs.server = h("div", { class: "panel server", testid: "server", hidden: true });
    refs.warnings = h("ul", { class: "panel warnings", testid: "warnings", hidden: true });
    refs.shotList = h("div", { class: "shots" });
    refs.shots_ = h("div", { class: "panel", testid: "screenshots", hidden: true }, [
      h("h3", { text: "Screenshots" }), refs.shotList]);
    refs.benchSummary = h("div", { class: "bench-summary", testid: "bench-summary" });
    refs.benchFill = h("div", { class: "fill" });
    refs.benchBar = h("div", { class: "bar", testid: "bench-bar", "data-pct": "0" }, [refs.benchFill]);
    refs.benchFinal = h("div", { class: "bench-final", testid: "bench-final", hidden: true });
    refs.taskList = h("ol", { class: "tasks", testid: "tasks" });
    refs.bench = h("div", { class: "panel", testid: "benchmark", hidden: true }, [
      h("h3", { text: "Benchmark" }), refs.benchSummary, refs.benchBar, refs.benchFinal, refs.taskList]);
    refs.headPhase = h("span", { class: "hphase", testid: "host-phase" });

    const root = h("section", { class: "card host", testid: "host-" + name, "data-host": name }, [
      h("header", { class: "host-head" }, [h("h2", { text: name }), refs.headPhase]),
      refs.result,
      h("div", { class: "cols" }, [
        h("div", { class: "col-phases" }, [phaseList, refs.otherChecks]),
        h("div", { class: "col-detail" }, [refs.pull, refs.boot, refs.server, refs.warnings, refs.shots_]),
      ]),
      refs.bench,
    ]);
    const card = { root, refs };
    cards.set(name, card);
    const list = document.getElementById("hosts");
    const names = Array.from(cards.keys()).sort();
    const next = names[names.indexOf(name) + 1];
    list.insertBefore(root, next ? cards.get(next).root : null);
    return card;
  }

  function groupStatus(records, finished) {
    const statuses = records.map((r) => (r ? r.status || "running" : "pending"));
    if (statuses.includes("failed")) return "failed";
    if (statuses.includes("running")) return "running";
    const done = statuses.filter((s) => s !== "pending");
    if (!done.length) return "pending";
    if (done.length < statuses.length && !finished) return "running";
    if (done.includes("warning")) return "warning";
    if (done.every((s) => s === "skipped")) return "skipped";
    return "ok";
  }

  function phaseDuration(record) {
    if (!record) return null;
    if (record.duration !== null && record.duration !== undefined) return Number(record.duration);
    if (record.status === "running" && record.started) return Math.max(0, now() - record.started);
    return null;
  }

  function renderPhases(card, host) {
    const finished = !!host.result || (model.state && model.state.status === "complete");
    for (const { row, status, duration, note, checks, group } of Object.values(card.refs.phases)) {
      const records = group.roles.map((role) => host.phases[role]);
      const st = groupStatus(records, finished);
      setAttr(row, "data-status", st);
      // A run that does not set the host up (a benchmark run, a reset) shows only the phases it went through.
      show(row, st !== "pending" || !model.state || model.state.setup !== false);
      setText(status, STATUS_TEXT[st] || st);
      const durations = records.map(phaseDuration).filter((d) => d !== null);
      setText(duration, durations.length ? fmtDuration(durations.reduce((a, b) => a + b, 0)) : "");
      const messages = records.filter((r) => r && (r.message || r.fix) && r.status !== "running" && r.status !== "ok");
      show(note, messages.length > 0);
      if (messages.length) {
        const r = messages[0];
        const text = (r.message || "") + (r.fix ? "\nFix: " + r.fix : "");
        setText(note, text);
      }
      const list = (host.checks || []).filter((c) => group.roles.includes(c.phase)).slice(-8);
      const key = list.map((c) => c.name + (c.ok ? "1" : "0") + (c.message || "")).join("|");
      if (checks.dataset.key !== key) {
        checks.dataset.key = key;
        checks.replaceChildren(...list.map((c) => h("li", { class: c.ok ? "ok" : "failed" }, [
          h("span", { class: "mark", text: c.ok ? "\u2713" : "\u2717" }),
          h("span", { text: c.name + (c.message && c.message !== c.name ? ": " + c.message : "") }),
          c.duration >= 1 ? h("span", { class: "muted", text: " (" + fmtDuration(c.duration) + ")" }) : null,
        ])));
      }
      for (let i = 1; i < group.roles.length; i++) {
        const sub = card.refs.subphases[group.roles[i]];
        const rec = records[i];
        const sst = rec ? rec.status || "running" : "pending";
        setAttr(sub, "data-status", sst);
        setText(sub.querySelector(".pstatus"), STATUS_TEXT[sst] || sst);
        const d = phaseDuration(rec);
        setText(sub.querySelector(".pduration"), d === null ? "" : fmtDuration(d));
      }
    }
    // Checks that belong to no phase (e.g. a failure before the first phase started).
    const roles = new Set(model.phases.map((p) => p[0]));
    const others = (host.checks || []).filter((c) => !roles.has(c.phase)).slice(-8);
    const other = card.refs.otherChecks;
    show(other, others.length > 0);
    const okey = others.map((c) => c.name + (c.ok ? "1" : "0") + (c.message || "")).join("|");
    if (other.dataset.key !== okey) {
      other.dataset.key = okey;
      other.replaceChildren(...others.map((c) => h("li", { class: c.ok ? "ok" : "failed" }, [
        h("span", { class: "mark", text: c.ok ? "\u2713" : "\u2717" }),
        h("span", { text: c.name + (c.message && c.message !== c.name ? ": " + c.message : "") }),
      ])));
    }
    const current = host.phase && host.phases[host.phase];
    setText(card.refs.headPhase, current && !host.result ? phaseLabel(current, " \u00b7 ") : "");
  }

  function renderPull(refs, pull) {
    show(refs.pull, !!pull);
    if (!pull) return;
    // A transfer (the ISO, the golden disk) names what moves; the image pull is the default.
    setText(refs.pullTitle, pull.what ? "Transfer: " + pull.what : "Image pull");
    const total = Number(pull.bytes_total) || 0;
    const done = Number(pull.bytes_done) || 0;
    let pct = total ? Math.min(100, (done / total) * 100) : 0;
    if (pull.state === "done") pct = 100;
    const shown = Math.floor(pct * 10) / 10;
    setAttr(refs.pullBar, "data-pct", shown);
    setAttr(refs.pullBar, "aria-valuenow", shown);
    setAttr(refs.pullBar, "data-state", pull.state || "");
    refs.pullFill.style.width = shown + "%";
    const parts = [total ? fmtBytes(done) + " / " + fmtBytes(total) + " (" + Math.floor(pct) + "%)" : fmtBytes(done)];
    if (pull.layers_total) parts.push((pull.layers_done || 0) + " of " + pull.layers_total + " layers");
    if (pull.rate_bps) parts.push(fmtBytes(pull.rate_bps) + "/s");
    if (pull.eta_s !== null && pull.eta_s !== undefined && total && done < total && pull.state !== "done") {
      parts.push("ETA " + fmtDuration(pull.eta_s));
    }
    if (pull.source) parts.push("from " + pull.source);
    if ((pull.attempt || 1) > 1) parts.push("attempt " + pull.attempt + "/" + (pull.attempts_max || "?"));
    if (pull.state === "done" || pull.state === "failed") parts.push(pull.state);
    setText(refs.pullText, (pull.image ? pull.image + ": " : "") + parts.join(" \u00b7 "));
  }

  function renderBoot(refs, boot) {
    const visible = !!(boot && (boot.stage || (boot.log_tail || []).length));
    show(refs.boot, visible);
    if (!visible) return;
    const stages = model.bootStages.length ? model.bootStages : Object.keys(boot.stages || {});
    const first = Math.min(...Object.values(boot.stages || {}).filter(Boolean));
    if (refs.bootStages.childElementCount !== stages.length) {
      refs.bootStages.replaceChildren(...stages.map((s) => h("li", { testid: "boot-stage-" + s, "data-reached": "false" }, [
        h("span", { text: s.replace(/_/g, " ") }), h("span", { class: "muted at" }),
      ])));
    }
    stages.forEach((s, i) => {
      const li = refs.bootStages.children[i];
      const at = boot.stages && boot.stages[s];
      setAttr(li, "data-reached", at ? "true" : "false");
      setAttr(li, "data-current", boot.stage === s ? "true" : "false");
      setText(li.querySelector(".at"), at && isFinite(first) ? "+" + fmtDuration(at - first) : "");
    });
    setText(refs.bootStage, boot.stage ? boot.stage.replace(/_/g, " ") : "");
    setText(refs.bootLog, (boot.log_tail || []).join("\n"));
  }

  function renderServer(refs, server) {
    show(refs.server, !!server);
    if (!server) return;
    setText(refs.server, "\u2713 WAA server answering at " + (server.url || "?") +
      (server.elapsed ? " (after " + fmtDuration(server.elapsed) + ")" : ""));
  }

  function renderWarnings(refs, warnings) {
    warnings = warnings || [];
    show(refs.warnings, warnings.length > 0);
    if (refs.warnings.childElementCount !== warnings.length) {
      refs.warnings.replaceChildren(...warnings.map((w) => h("li", { class: "warning", testid: "warning", text: "! " + w })));
    }
  }

  function renderShots(refs, shots) {
    shots = (shots || []).filter((s) => s.url);
    show(refs.shots_, shots.length > 0);
    for (const shot of shots) {
      if (refs.shots.has(shot.url)) continue;
      const img = h("img", { testid: "screenshot", src: shot.url, alt: "screenshot " + (shot.phase || ""), loading: "eager" });
      const fig = h("figure", {}, [
        h("a", { href: shot.url, target: "_blank", rel: "noopener" }, [img]),
        h("figcaption", { text: (shot.phase || "") + (shot.ts ? " \u00b7 " + fmtClock(shot.ts) : "") }),
      ]);
      refs.shots.set(shot.url, fig);
      refs.shotList.append(fig);
    }
  }

  function taskStatus(task) {
    if (!task.result) return "running";
    return task.result.success ? "passed" : "failed";
  }

  function createTask(task) {
    const steps = h("ol", { class: "steps", testid: "steps" });
    const details = h("details", { open: true }, [h("summary", { class: "steps-sum" }), steps]);
    const score = h("span", { class: "tscore", testid: "task-score" });
    const li = h("li", { class: "task", testid: "task-" + task.task_id, "data-task-id": task.task_id, "data-status": "running" }, [
      h("div", { class: "trow" }, [
        h("span", { class: "domain", testid: "task-domain", text: task.domain || "" }),
        h("code", { class: "tid", text: task.task_id }),
        score,
      ]),
      h("p", { class: "instr", testid: "task-instruction", text: task.instruction || "" }),
      details,
    ]);
    return { li, steps, details, score, autoOpen: true };
  }

  function renderTask(ref, task) {
    const st = taskStatus(task);
    setAttr(ref.li, "data-status", st);
    if (task.domain) setText(ref.li.querySelector(".domain"), task.domain);
    if (task.instruction) setText(ref.li.querySelector(".instr"), task.instruction);
    const result = task.result;
    setText(ref.score, result
      ? (result.success ? "\u2713 " : "\u2717 ") + "score " + fmtScore(result.score) +
        (result.total_time_seconds ? " \u00b7 " + fmtDuration(result.total_time_seconds) : "")
      : "running\u2026");
    setAttr(ref.score, "data-score", result ? result.score : "");
    const steps = task.steps || [];
    setText(ref.details.querySelector("summary"), steps.length + (steps.length === 1 ? " step" : " steps"));
    while (ref.steps.childElementCount > steps.length) ref.steps.lastElementChild.remove();
    steps.forEach((step, i) => {
      let li = ref.steps.children[i];
      if (!li) {
        li = h("li", { class: "step", testid: "step", "data-step": step.step_idx }, [
          h("div", { class: "srow" }, [h("span", { class: "sidx", text: "Step " + (step.step_idx ?? i + 1) })]),
          h("pre", { class: "action", testid: "step-action", text: actionText(step.action) }),
          step.reasoning ? h("p", { class: "reason muted", text: step.reasoning }) : null,
        ]);
        ref.steps.append(li);
      }
      if (step.screenshot_url && !li.querySelector("img")) {
        li.append(h("a", { href: step.screenshot_url, target: "_blank", rel: "noopener" }, [
          h("img", { class: "thumb", testid: "step-screenshot", src: step.screenshot_url, alt: "step " + step.step_idx }),
        ]));
      }
    });
    if (result && ref.autoOpen) { ref.details.open = false; ref.autoOpen = false; }
  }

  // A host's benchmark so far: from its benchmark record, else from the tasks seen (null when it runs none).
  function benchStats(host, name) {
    const bench = host.benchmark || {};
    const tasks = model.tasks[name] || new Map();
    if (!(bench.status && bench.status !== "idle" || tasks.size > 0)) return null;
    const finished = Array.from(tasks.values()).filter((t) => t.result);
    const scores = finished.map((t) => Number(t.result.score)).filter((s) => !isNaN(s));
    const sum = scores.reduce((a, b) => a + b, 0);
    return {
      status: bench.status || "running", total: bench.total_tasks, current: bench.current_task || null,
      completed: bench.tasks_completed ?? finished.length,
      success: bench.success_count ?? finished.filter((t) => t.result.success).length,
      avg: bench.average_score ?? (scores.length ? sum / scores.length : null), scored: scores.length, scoreSum: sum,
    };
  }

  // The fleet: a column per host that runs the benchmark, and the merged score (each task's score once).
  function renderFleet() {
    const panel = document.getElementById("fleet");
    const stats = Object.keys(model.state.hosts || {}).sort()
      .map((name) => [name, benchStats(model.state.hosts[name], name)]).filter(([, st]) => st);
    show(panel, stats.length > 1);
    if (stats.length < 2) return;
    const sum = (key) => stats.reduce((a, [, st]) => a + (Number(st[key]) || 0), 0);
    const scored = sum("scored");
    const avg = scored ? sum("scoreSum") / scored : null;
    const summary = document.getElementById("fleet-summary");
    const total = stats.every(([, st]) => st.total) ? sum("total") : null;
    setText(summary, "Fleet of " + stats.length + " hosts: tasks completed " + sum("completed") +
      (total ? " / " + total : "") + " \u00b7 succeeded " + sum("success") + " \u00b7 average score " +
      (avg === null ? "\u2013" : fmtScore(avg)));
    setAttr(summary, "data-completed", sum("completed"));
    setAttr(summary, "data-success", sum("success"));
    setAttr(summary, "data-average", avg === null ? "" : avg);
    const rows = [["host", ([name]) => name], ["status", ([, st]) => st.status],
      ["tasks", ([, st]) => st.completed + (st.total ? " / " + st.total : "")], ["succeeded", ([, st]) => st.success],
      ["average", ([, st]) => (st.avg === null ? "\u2013" : fmtScore(st.avg))],
      ["running", ([, st]) => (st.current && st.current.task_id ? st.current.domain + "/" + st.current.task_id : "")]];
    const key = JSON.stringify(rows.map(([label, cell]) => stats.map((entry) => String(cell(entry)))));
    const table = document.getElementById("fleet-table");
    if (table.dataset.key === key) return;
    table.dataset.key = key;
    table.replaceChildren(...rows.map(([label, cell], r) => h("tr", {}, [h("th", { text: r ? label : "" })].concat(
      stats.map((entry) => h(r ? "td" : "th", { testid: "fleet-" + label + "-" + entry[0], text: String(cell(entry)) }))))));
  }

  function renderBench(refs, host, name) {
    const st = benchStats(host, name);
    const tasks = model.tasks[name] || new Map();
    const bench = host.benchmark || {};
    show(refs.bench, !!st);
    if (!st) return;
    const { completed, success, avg, total } = st;
    setText(refs.benchSummary, "Tasks completed " + completed + (total ? " / " + total : "") +
      " \u00b7 succeeded " + success + " \u00b7 average score " + (avg === null ? "\u2013" : fmtScore(avg)));
    setAttr(refs.benchSummary, "data-completed", completed);
    setAttr(refs.benchSummary, "data-success", success);
    setAttr(refs.benchSummary, "data-average", avg === null ? "" : avg);
    const pct = total ? Math.min(100, (completed / total) * 100) : (bench.status === "complete" ? 100 : 0);
    setAttr(refs.benchBar, "data-pct", Math.floor(pct * 10) / 10);
    refs.benchFill.style.width = pct + "%";
    const done = bench.status === "complete" || (model.state && model.state.status === "complete");
    show(refs.benchFinal, done);
    if (done) {
      setText(refs.benchFinal, "Final: " + completed + " tasks completed, " + success + " succeeded, average score " +
        (avg === null ? "\u2013" : fmtScore(avg)));
    }
    for (const task of tasks.values()) {
      let ref = refs.tasks.get(task.task_id);
      if (!ref) {
        ref = createTask(task);
        refs.tasks.set(task.task_id, ref);
        refs.taskList.append(ref.li);
      }
      renderTask(ref, task);
    }
  }

  function renderResult(refs, result) {
    show(refs.result, !!result);
    if (!result) return;
    const code = result.exit_code;
    setAttr(refs.result, "data-exit-code", code);
    setAttr(refs.result, "data-status", code === 0 ? "ok" : "failed");
    const lines = [
      (code === 0 ? "\u2713 " : "\u2717 ") + "Exit " + code + ": " + (result.exit_meaning || "") +
        (result.duration_seconds ? " \u00b7 " + fmtDuration(result.duration_seconds) : ""),
    ];
    if (result.message) lines.push(result.message);
    if (result.fix) lines.push("Fix: " + result.fix);
    if (code === 0 && result.tunnel_command) lines.push("Tunnel: " + result.tunnel_command);
    const key = lines.join("\n");
    if (refs.result.dataset.key !== key) {
      refs.result.dataset.key = key;
      refs.result.replaceChildren(...lines.map((l, i) => h(i === 0 ? "strong" : "div", {
        testid: i === 0 ? "result-title" : null, text: l,
      })));
    }
  }

  function renderHost(name) {
    const host = model.state.hosts[name];
    if (!host) return;
    const card = cards.get(name) || createCard(name);
    renderPhases(card, host);
    renderResult(card.refs, host.result);
    renderPull(card.refs, host.transfer && host.transfer.state !== "done" ? host.transfer : host.pull || host.transfer);
    renderBoot(card.refs, host.boot);
    renderServer(card.refs, host.server);
    renderWarnings(card.refs, host.warnings);
    renderShots(card.refs, host.screenshots);
    renderBench(card.refs, host, name);
  }

  function logLine(entry) {
    return fmtClock(entry.ts) + " " + entry.text;
  }

  function renderLog(added) {
    const log = document.getElementById("log");
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 30;
    if (added === undefined || log.childNodes.length > LOG_MAX * 2) {
      setText(log, model.log.map(logLine).join("\n"));
    } else if (added.length) {
      const start = model.log.length - added.length;
      const text = model.log.slice(start).map(logLine).join("\n");
      log.append(document.createTextNode((log.textContent ? "\n" : "") + text));
    }
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function renderAll() {
    renderHeader();
    for (const name of Object.keys(model.state.hosts || {}).sort()) renderHost(name);
    renderFleet();
    renderLog();
  }

  // Running phases show their elapsed time.
  setInterval(() => {
    if (!model.state || model.state.status !== "running") return;
    for (const [name, card] of cards) {
      const host = model.state.hosts[name];
      if (host) renderPhases(card, host);
    }
  }, 1000);

  // -- transport: SSE, polling as the fallback -----------------------------------------------------
  let source = null;
  let pollTimer = null;
  let polling = false;

  async function pollOnce() {
    try {
      const resp = await fetch("api/state", { cache: "no-store" });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      const snap = await resp.json();
      if (!model.state || snap.id !== model.id) onSnapshot(snap);
      if (polling) setConn("polling", "polling");
    } catch (err) {
      setConn("offline", "viewer unreachable; last known state shown");
    }
  }
  function startPolling() {
    if (pollTimer) return;
    polling = true;
    pollOnce();
    pollTimer = setInterval(pollOnce, POLL_MS);
  }
  function stopPolling() {
    polling = false;
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    if (!window.EventSource) { startPolling(); return; }
    source = new EventSource("api/events");
    source.addEventListener("state", (e) => onSnapshot(JSON.parse(e.data)));
    source.addEventListener("waa", (e) => onEvent(JSON.parse(e.data)));
    source.onopen = () => { stopPolling(); setConn("live", "live"); };
    source.onerror = () => {
      // EventSource retries by itself (with Last-Event-ID); poll meanwhile.
      setConn("polling", "polling");
      startPolling();
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        setTimeout(connect, 5000);
      }
    };
  }

  renderHeader();
  connect();
})();
